// Package server assembles MonkeyThorn Meet's HTTP side on its own
// http.ServeMux: the JSON API that hands out room codes and join tokens, the
// signaling WebSocket, the embedded web client and health endpoints, wired
// to one SFU.
//
// Nothing here is global, so two Servers can run in one process (tests do).
// Rooms are not created or stored by the API: a room exists in the SFU while
// someone is in it, and any well-formed room code can be joined. See
// docs/protocol.md for why.
package server
