// Package cluster lets several meet nodes share one Redis so that each room
// lives on exactly one node and a participant who reaches another node is
// sent to the right one.
//
// Redis holds only short-lived, impersonal state, every key with a TTL:
//
//	meet:secret          keyed fingerprint of the shared token secret
//	meet:nodes           set of node ids (its own TTL refreshed by every node)
//	meet:node:<id>       JSON: public URL, participant count, CPU, room count, draining
//	meet:room:<hmac>     id of the node hosting the room; the room code is an
//	                     HMAC with the shared secret, never stored in clear
//
// Each node refreshes its record and the records of the rooms it hosts every
// Config.Refresh; a node that dies stops refreshing and its records expire
// after Config.TTL, after which its rooms are placed again on a live node.
// The first Place of a room claims it with SET NX, so two nodes can never
// both win. Hosted rooms never depend on Redis: if Redis is unreachable a
// node keeps serving them, refuses new rooms (or hosts them locally when
// Config.FallbackLocal is set), and re-registers everything when Redis is
// back. docs/scaling.md describes the operator's view.
package cluster
