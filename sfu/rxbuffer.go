package sfu

import (
	"io"
	"time"

	"github.com/monkeythorn/meet/sfu/rxqueue"
	"github.com/pion/transport/v5/packetio"
)

// maxQueueDelay bounds in time the queue between Pion's SRTP decryption
// and a track's reader: a packet that waited longer is dropped (counted as
// ReceiveLate) instead of forwarded. Beyond it a call is no longer
// interactive, and skipping what is stale is what lets a reader that fell
// behind catch up.
const maxQueueDelay = 400 * time.Millisecond

// rxQueuePackets bounds the same queue in count: about a second of a
// 5 Mbit/s stream.
const rxQueuePackets = 512

// srtcpBufferSize is the byte limit Pion gives RTCP read buffers itself.
const srtcpBufferSize = 100 * 1000

// bufferFactory is the SettingEngine's BufferFactory: received RTP goes
// through a time-bounded rxqueue, RTCP through Pion's usual buffer.
func (s *SFU) bufferFactory(kind packetio.BufferPacketType, _ uint32) io.ReadWriteCloser {
	if kind == packetio.RTPBufferPacket {
		return rxqueue.New(rxqueue.Config{MaxAge: maxQueueDelay, MaxPackets: rxQueuePackets, Drops: &s.rxDrops})
	}
	b := packetio.NewBuffer()
	b.SetLimitSize(srtcpBufferSize)
	return rtcpBuffer{b}
}

// rtcpBuffer is a packetio.Buffer as an io.ReadWriteCloser, as Pion wraps
// it itself.
type rtcpBuffer struct{ *packetio.Buffer }

func (b rtcpBuffer) Read(p []byte) (int, error) {
	n, _, err := b.Buffer.Read(p, nil)
	return n, err
}

func (b rtcpBuffer) Write(p []byte) (int, error) { return b.Buffer.Write(p, nil) }
