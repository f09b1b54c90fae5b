// Package gortbench holds the Go side of gort-bench's channel comparison:
// the channel benchmarks of Go's own src/runtime/chan_test.go (ChanSync,
// ChanProdCons0/10/100, ChanUncontended, ChanContended, SelectUncontended,
// SelectProdCons), with the same
// structure as there, plus a check of what was received (Go's originals
// check nothing). benches/src/workload/go_chan.rs mirrors each of them on
// gort's channels; keep the two files in step.
//
// By hand (GOMAXPROCS=2 as the harness uses):
//
//	cd benches/go && go test -bench . -benchtime 1000000x -cpu 2
//
// The harness builds this package once with `go test -c` and runs one
// benchmark per measured run with a fixed b.N (-test.benchtime Nx), so the
// Go column does the same number of operations as gort's.
package gortbench

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// callsPerSched is the batch size that ChanSync and ChanProdCons* take from
// the shared countdown at a time (Go's CallsPerSched).
const callsPerSched = 1000

// BenchmarkChanSync: two goroutines ping-pong over one unbuffered channel.
// Each takes batches of callsPerSched iterations from a shared countdown; in
// an even batch an iteration receives then sends, in an odd one it sends then
// receives, so the two goroutines always pair up.
func BenchmarkChanSync(b *testing.B) {
	const procs = 2
	batches := int32(b.N / callsPerSched / procs * procs)
	want := int(batches) * callsPerSched
	done := make(chan int, procs)
	myc := make(chan int)
	for p := 0; p < procs; p++ {
		go func() {
			got := 0
			for {
				i := atomic.AddInt32(&batches, -1)
				if i < 0 {
					break
				}
				for g := 0; g < callsPerSched; g++ {
					if i%2 == 0 {
						got += <-myc
						myc <- 1
					} else {
						myc <- 1
						got += <-myc
					}
				}
			}
			done <- got
		}()
	}
	total := 0
	for p := 0; p < procs; p++ {
		total += <-done
	}
	if total != want {
		b.Fatalf("ChanSync: received %d values, want %d", total, want)
	}
}

// benchmarkChanProdCons: GOMAXPROCS producers and GOMAXPROCS consumers share
// one channel of chanSize. Producers take batches of callsPerSched sends
// (of 1) from a shared countdown and finish with one 0 each; a consumer
// stops at the first 0 it receives.
func benchmarkChanProdCons(b *testing.B, chanSize int) {
	procs := runtime.GOMAXPROCS(-1)
	batches := int32(b.N / callsPerSched)
	want := int(batches) * callsPerSched
	done := make(chan int, 2*procs)
	myc := make(chan int, chanSize)
	for p := 0; p < procs; p++ {
		go func() {
			for atomic.AddInt32(&batches, -1) >= 0 {
				for g := 0; g < callsPerSched; g++ {
					myc <- 1
				}
			}
			myc <- 0
			done <- 0
		}()
		go func() {
			sum := 0
			for {
				v := <-myc
				if v == 0 {
					break
				}
				sum += v
			}
			done <- sum
		}()
	}
	total := 0
	for p := 0; p < 2*procs; p++ {
		total += <-done
	}
	if total != want {
		b.Fatalf("ChanProdCons%d: received a sum of %d, want %d", chanSize, total, want)
	}
}

func BenchmarkChanProdCons0(b *testing.B)   { benchmarkChanProdCons(b, 0) }
func BenchmarkChanProdCons10(b *testing.B)  { benchmarkChanProdCons(b, 10) }
func BenchmarkChanProdCons100(b *testing.B) { benchmarkChanProdCons(b, 100) }

// chanBurst is the number of sends, then receives, in one op of
// ChanUncontended and ChanContended (Go's C).
const chanBurst = 100

// BenchmarkChanUncontended: b.RunParallel (GOMAXPROCS goroutines); each has
// its own channel of chanBurst and per op sends chanBurst values, then
// receives them.
func BenchmarkChanUncontended(b *testing.B) {
	var total int64
	b.RunParallel(func(pb *testing.PB) {
		myc := make(chan int, chanBurst)
		got := 0
		for pb.Next() {
			for i := 0; i < chanBurst; i++ {
				myc <- 1
			}
			for i := 0; i < chanBurst; i++ {
				got += <-myc
			}
		}
		atomic.AddInt64(&total, int64(got))
	})
	if want := int64(b.N) * chanBurst; total != want {
		b.Fatalf("ChanUncontended: received %d values, want %d", total, want)
	}
}

// BenchmarkChanContended: as ChanUncontended, but all goroutines share one
// channel of chanBurst*GOMAXPROCS.
func BenchmarkChanContended(b *testing.B) {
	myc := make(chan int, chanBurst*runtime.GOMAXPROCS(0))
	var total int64
	b.RunParallel(func(pb *testing.PB) {
		got := 0
		for pb.Next() {
			for i := 0; i < chanBurst; i++ {
				myc <- 1
			}
			for i := 0; i < chanBurst; i++ {
				got += <-myc
			}
		}
		atomic.AddInt64(&total, int64(got))
	})
	if want := int64(b.N) * chanBurst; total != want {
		b.Fatalf("ChanContended: received %d values, want %d", total, want)
	}
}

// BenchmarkSelectUncontended: b.RunParallel; each goroutine has two channels
// of 1 with one value between them, and per op one select moves it from
// whichever holds it to the other.
func BenchmarkSelectUncontended(b *testing.B) {
	var total int64
	b.RunParallel(func(pb *testing.PB) {
		myc1 := make(chan int, 1)
		myc2 := make(chan int, 1)
		myc1 <- 0
		done := 0
		for pb.Next() {
			select {
			case <-myc1:
				myc2 <- 0
			case <-myc2:
				myc1 <- 0
			}
			done++
		}
		full, empty := myc1, myc2
		if done%2 == 1 {
			full, empty = myc2, myc1
		}
		if len(full) != 1 || len(empty) != 0 {
			panic("SelectUncontended: the value is in the wrong channel")
		}
		atomic.AddInt64(&total, int64(done))
	})
	if total != int64(b.N) {
		b.Fatalf("SelectUncontended: %d selects, want %d", total, b.N)
	}
}

// BenchmarkSelectProdCons: GOMAXPROCS producers and GOMAXPROCS consumers
// share one channel of 128; every send and receive is a select with a timer
// and a close channel that never fire, and each side models some local work
// per operation. Producers take batches of callsPerSched from a shared
// countdown and finish with one 0 each; a consumer stops at the first 0.
func BenchmarkSelectProdCons(b *testing.B) {
	procs := runtime.GOMAXPROCS(-1)
	batches := int32(b.N / callsPerSched)
	want := int(batches) * callsPerSched
	done := make(chan int, 2*procs)
	myc := make(chan int, 128)
	myclose := make(chan bool)
	for p := 0; p < procs; p++ {
		go func() {
			foo := 0
			mytimer := time.After(time.Hour) // never fires during the run
			for atomic.AddInt32(&batches, -1) >= 0 {
				for g := 0; g < callsPerSched; g++ {
					for i := 0; i < 100; i++ {
						foo *= 2
						foo /= 2
					}
					select {
					case myc <- 1:
					case <-mytimer:
						panic("timer fired")
					case <-myclose:
						panic("closed")
					}
				}
			}
			myc <- 0
			done <- foo
		}()
		go func() {
			foo := 0
			sum := 0
			mytimer := time.After(time.Hour)
		loop:
			for {
				select {
				case v := <-myc:
					if v == 0 {
						break loop
					}
					sum += v
				case <-mytimer:
					panic("timer fired")
				case <-myclose:
					panic("closed")
				}
				for i := 0; i < 100; i++ {
					foo *= 2
					foo /= 2
				}
			}
			done <- sum + foo
		}()
	}
	total := 0
	for p := 0; p < 2*procs; p++ {
		total += <-done
	}
	if total != want {
		b.Fatalf("SelectProdCons: received a sum of %d, want %d", total, want)
	}
}
