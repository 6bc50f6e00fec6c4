// Package ceiling measures the bare forwarding path on this machine: what
// the SFU's per-subscriber step costs when nothing else runs. Each packet
// gets its RTP header rewritten (SSRC, sequence number, timestamp), is
// encrypted with pion/srtp (AEAD_AES_128_GCM, one context per simulated
// subscriber) and leaves in one sendto to loopback.
//
// The receiver runs in a child process (ServeSink) so its CPU is not billed
// to the sender. It cannot be fully separated: on loopback the kernel
// delivers the datagram to the receiving socket inside the sender's sendto,
// so part of the receive work still counts as sender CPU. The same is true
// of the SFU sending to clients on loopback, so the comparison is fair.
package ceiling
