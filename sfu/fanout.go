package sfu

import (
	"runtime"
	"sync"
	"time"

	"github.com/monkeythorn/meet/sfu/udpbatch"
)

// parallelFanout is the number of subscribers of one track above which the
// reader shares the fan-out of each frame with the pool's workers. Below
// it, handing work to another goroutine costs more than it saves.
const parallelFanout = 64

// fanoutPool runs parts of large fan-outs on other cores.
type fanoutPool struct {
	jobs    chan fanoutJob
	done    chan struct{}
	batch   *udpbatch.Conn // Pion's writes (the slow path), batched per fan-out
	batches *batchPool     // the fast path's send batches
	wg      sync.WaitGroup
	size    int // workers
	delay   delayHistogram
}

// fanoutJob is one slice of subscribers for the packets of one frame; the
// packets stay valid until the job's WaitGroup is done.
type fanoutJob struct {
	downs []*DownTrack
	pkts  []*packet
	wg    *sync.WaitGroup
}

// newFanoutPool starts one worker per core beyond the first, or none on a
// single core.
func newFanoutPool(batch *udpbatch.Conn, batches *batchPool) *fanoutPool {
	f := &fanoutPool{
		jobs:    make(chan fanoutJob),
		done:    make(chan struct{}),
		batch:   batch,
		batches: batches,
		size:    runtime.GOMAXPROCS(0) - 1,
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
			f.writeAll(j.downs, j.pkts)
			j.wg.Done()
		}
	}
}

func (f *fanoutPool) close() {
	close(f.done)
	f.wg.Wait()
}

// writeAll forwards pkts to downs, subscriber by subscriber, so that the
// packets of a frame to one subscriber lie next to each other in the send
// batch and leave in one GSO send.
func (f *fanoutPool) writeAll(downs []*DownTrack, pkts []*packet) {
	out := f.batches.get()
	f.batch.Begin()
	for _, d := range downs {
		for _, p := range pkts {
			d.writeRTP(p, out)
		}
	}
	f.batches.put(out)
	f.batch.End()
}

// forward hands pkts to every DownTrack of the track and returns when
// every subscriber's copy is written, so the packets' buffers can be
// reused. It counts the time since the first packet arrived in the
// forwarding delay.
func (f *fanoutPool) forward(downs []*DownTrack, pkts []*packet, wg *sync.WaitGroup) {
	f.fanOut(downs, pkts, wg)
	if arrived := pkts[0].now; arrived > 0 {
		f.delay.observe(time.Now().UnixNano() - arrived)
	}
}

// fanOut writes pkts to downs, splitting a large fan-out between the
// reader and the pool's workers.
func (f *fanoutPool) fanOut(downs []*DownTrack, pkts []*packet, wg *sync.WaitGroup) {
	if len(downs) < parallelFanout || f.size == 0 {
		f.writeAll(downs, pkts)
		return
	}
	part := (len(downs) + f.size) / (f.size + 1)
	rest := downs[part:]
	for len(rest) > 0 {
		n := min(part, len(rest))
		wg.Add(1)
		select {
		case f.jobs <- fanoutJob{downs: rest[:n], pkts: pkts, wg: wg}:
		case <-f.done:
			wg.Done()
			f.writeAll(rest[:n], pkts)
		}
		rest = rest[n:]
	}
	f.writeAll(downs[:part], pkts)
	wg.Wait()
}
