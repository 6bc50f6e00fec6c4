// Package load runs meet-bench's load: real Pion clients that join rooms
// through the server's HTTP API and signaling WebSocket, connect over ICE
// and DTLS-SRTP on loopback, and send or receive synthetic VP8.
//
// Publishers send 30 fps frames sized from the bit rate, key frames every
// 2.5 s or on PLI, each frame stamped with its send time (and encrypted with
// the Go E2EE implementation with --e2ee). Subscribers only let Pion decrypt
// SRTP, then count packets, watch sequence numbers for loss, and time each
// frame from its stamp when its last packet arrives: no decoding, so the
// generator stays light next to the server it measures.
//
// Every client has its own SettingEngine and so its own UDP socket: with a
// shared socket all clients would present one address pair to the server's
// single media port, and ICE could not tell them apart.
package load
