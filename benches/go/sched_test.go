// Two of Go's scheduler benchmarks (src/runtime/proc_test.go), for the
// harness's sched/go suite; benches/src/workload/go_sched.rs mirrors them
// on gort and tokio. Keep the two files in step.
package gortbench

import (
	"runtime"
	"testing"
)

// BenchmarkCreateGoroutines: a chain of b.N goroutines, each starting the
// next; the last one signals.
func BenchmarkCreateGoroutines(b *testing.B) {
	done := make(chan int)
	var next func(left, hops int)
	next = func(left, hops int) {
		if left == 0 {
			done <- hops
			return
		}
		go next(left-1, hops+1)
	}
	go next(b.N, 0)
	if hops := <-done; hops != b.N {
		b.Fatalf("CreateGoroutines: %d hops, want %d", hops, b.N)
	}
}

// BenchmarkPingPongHog: on one P, two goroutines ping-pong b.N times over
// unbuffered channels while a third spins (Go preempts it).
func BenchmarkPingPongHog(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	stop, done := make(chan bool), make(chan bool)
	go func() {
		for {
			select {
			case <-stop:
				done <- true
				return
			default:
			}
		}
	}()
	ping, pong := make(chan int), make(chan int)
	go func() {
		for j := 0; j < b.N; j++ {
			pong <- 1 + <-ping
		}
		close(stop)
		done <- true
	}()
	go func() {
		for i := 0; i < b.N; i++ {
			ping <- <-pong
		}
		done <- true
	}()
	b.ResetTimer()
	ping <- 0
	<-stop
	b.StopTimer()
	if last := <-ping; last != b.N {
		b.Fatalf("PingPongHog: counter %d, want %d", last, b.N)
	}
	<-done
	<-done
	<-done
}
