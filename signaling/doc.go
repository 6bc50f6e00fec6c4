// Package signaling is the WebSocket side of a call: it authenticates a
// participant with the token in its first message, joins it to the SFU, and
// then translates between typed JSON messages (messages.go, the wire
// contract) and the SFU's Participant methods and Listener callbacks.
//
// Each connection has two goroutines: a reader that decodes and dispatches
// client messages through a table of one handler per message type, and a
// writer that drains a bounded queue. Nothing the SFU or another participant
// does can block on a slow client: when its queue is full it is disconnected.
//
// The package never logs tokens, room codes, sealed profiles or chat, and
// logs participant ids only at debug level.
package signaling
