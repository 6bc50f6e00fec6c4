// Package moderation holds the host rules of one meeting: who is a host,
// whether the meeting is locked, the lobby queue of people waiting to be let
// in, and the participants removed for the rest of the meeting.
//
// Rules knows participants by id only; it never sees names (they are sealed
// in the browsers) and never touches a connection. The signaling layer asks
// it before a join (Arrive), tells it about joins and leaves, and carries
// out what it decides. It lives in memory with the meeting and is dropped
// with it.
//
// When every host has left, host rights pass to the participant who has
// been in the meeting longest, as in Jitsi Meet: a meeting with people in it
// always has a host, so the lobby never waits for nobody, and whoever holds
// the host key can always come back as a host.
package moderation
