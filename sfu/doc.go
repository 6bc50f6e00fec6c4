// Package sfu is the media core of MonkeyThorn Meet: rooms, participants and
// the forwarding of RTP from each publisher to every subscriber.
//
// A participant has two peer connections, each with a single offerer so the
// two sides never race to renegotiate: the publisher connection (the client
// offers what it sends) and the subscriber connection (the server offers what
// the client receives). The package knows nothing of signaling, tokens or
// billing: a Listener carries its messages out, and callers drive it through
// Participant methods.
//
// The SFU reads only RTP headers, header extensions and the few codec bytes
// that end-to-end encryption leaves in clear; payloads are forwarded as they
// arrived.
package sfu
