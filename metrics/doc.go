// Package metrics exposes MonkeyThorn Meet's counters in the Prometheus text
// format, on a private registry (never the global default one, so two
// servers can run in one process).
//
// The SFU, signaling and TURN counters are read on scrape by a custom
// Collector rather than mirrored into Prometheus counters on the hot path:
// the forwarding loop only bumps its own plain integers, and the cost of a
// scrape is paid by the scraper.
//
// No label ever carries a room code, display name, participant id or IP
// address (the privacy promise in DESIGN.md): the only labels are fixed
// enumerations such as the drop reason. Tests enforce this.
package metrics
