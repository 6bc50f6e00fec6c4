// Package bench holds the parts of meet-bench that do not talk to a server:
// unit parsing (bit rates, packet rates, sweeps), latency percentiles, the
// synthetic VP8 frames publishers send and subscribers time, /proc and
// getrusage CPU accounting, and the report writers (table, JSON, CSV, SVG).
//
// The load generator (bench/load) and the bare-path ceiling (bench/ceiling)
// build on it; cmd/meet-bench wires them to flags.
package bench
