// Package e2ee implements MonkeyThorn Meet's end-to-end media encryption
// (docs/e2ee.md) in Go: the same key derivation, frame format and message
// sealing as the browser library in e2ee-client/, checked against the same
// test vectors.
//
// The server never holds a link key, so nothing in the SFU uses this package.
// It exists for the load generator, which must send media real clients can
// decrypt, and for tests that check the SFU forwards encrypted frames intact.
//
// Frame layout:
//
//	[clear codec bytes][AES-GCM ciphertext + 16-byte tag][IV 12][IV length 1 = 12][key index 1]
//
// The clear bytes are the AES-GCM additional data. Keys come from the link
// key through PBKDF2-HMAC-SHA256 (salted with the room code) and then one
// HKDF-SHA256 output per sender, so no two senders share a key.
package e2ee
