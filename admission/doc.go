// Package admission decides whether one client may do one more thing now:
// per-address rate limits on the expensive or enumerable HTTP actions
// (room creation, token issue, checkout, WebSocket upgrades) built on
// golang.org/x/time/rate, caps on concurrent signaling sessions per address
// and per node, and the client address itself, taken from a trusted proxy's
// header only when the connection comes from that proxy.
//
// Addresses are counted per IPv4 address and per IPv6 /64, because one
// IPv6 host usually owns a whole /64 and could otherwise take a fresh
// address for every request. Trusted clients (Config.Exempt, for example
// the load generator on loopback) skip the per-address limits but not the
// per-node cap.
//
// Every refusal is counted by limit name (Gate.Refusals) for /metrics; the
// names are fixed strings, never an address.
package admission
