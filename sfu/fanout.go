package sfu

import (
	"runtime"
	"sync"

	"github.com/monkeythorn/meet/sfu/udpbatch"
)

// parallelFanout is the number of subscribers of one track above which the
// reader shares the fan-out of each packet with the pool's workers. Below
// it, handing work to another goroutine costs more than it saves.
const parallelFanout = 64

// fanoutPool runs parts of large fan-outs on other cores.
type fanoutPool struct {
	jobs  chan fanoutJob
	done  chan struct{}
	batch *udpbatch.Conn
	wg    sync.WaitGroup
	size  int // workers
}

// fanoutJob is one slice of subscribers for one packet; the packet stays
// valid until the job's WaitGroup is done.
type fanoutJob struct {
	downs []*DownTrack
	p     *packet
	wg    *sync.WaitGroup
}

// newFanoutPool starts one worker per core beyond the first, or none on a
// single core.
func newFanoutPool(batch *udpbatch.Conn) *fanoutPool {
	f := &fanoutPool{
		jobs:  make(chan fanoutJob),
		done:  make(chan struct{}),
		batch: batch,
		size:  runtime.GOMAXPROCS(0) - 1,
	}
	for range f.size {
		f.wg.Add(1)
		go f.work()
	}
	return f
}

func (f *fanoutPool) work() {
	defer f.wg.Done()
	for {
		select {
		case <-f.done:
			return
		case j := <-f.jobs:
			writeAll(f.batch, j.downs, j.p)
			j.wg.Done()
		}
	}
}

func (f *fanoutPool) close() {
	close(f.done)
	f.wg.Wait()
}

// writeAll forwards p to downs inside one send batch.
func writeAll(batch *udpbatch.Conn, downs []*DownTrack, p *packet) {
	batch.Begin()
	for _, d := range downs {
		d.writeRTP(p)
	}
	batch.End()
}

// forward hands p to every DownTrack of the track, splitting a large
// fan-out between the reader and the pool's workers; it returns when every
// subscriber's copy is written, so p's buffer can be reused.
func (f *fanoutPool) forward(downs []*DownTrack, p *packet, wg *sync.WaitGroup) {
	if len(downs) < parallelFanout || f.size == 0 {
		writeAll(f.batch, downs, p)
		return
	}
	part := (len(downs) + f.size) / (f.size + 1)
	rest := downs[part:]
	for len(rest) > 0 {
		n := min(part, len(rest))
		wg.Add(1)
		select {
		case f.jobs <- fanoutJob{downs: rest[:n], p: p, wg: wg}:
		case <-f.done:
			wg.Done()
			writeAll(f.batch, rest[:n], p)
		}
		rest = rest[n:]
	}
	writeAll(f.batch, downs[:part], p)
	wg.Wait()
}
