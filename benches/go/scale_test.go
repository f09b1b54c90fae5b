// The scale suite on Go (benches/src/workload/scale.rs runs the same work
// on gort, tokio and smol; keep them in step). Each runs in a fresh test
// process per point, as the harness does for the Rust columns:
//
//   - BenchmarkScaleSpawn: b.N goroutines started from one goroutine, each
//     sending its index on a channel of its own (capacity 1: the join
//     handle of the Rust rows); the starter then receives from every
//     channel in order and checks the sum.
//   - TestScaleTimers: GORT_SCALE_N goroutines, each sleeping a pseudo-random
//     time below GORT_SCALE_WINDOW_NS from its start; prints the CPU time
//     of the process per timer and the 99th percentile of the lateness
//     (wake-up minus deadline). A wake-up before its deadline fails.
//
// The memory curve reuses TestSeedParkRSS (seed_test.go) with GORT_PARK_N.
package gortbench

import (
	"fmt"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func BenchmarkScaleSpawn(b *testing.B) {
	n := b.N
	handles := make([]chan int64, n)
	for i := 0; i < n; i++ {
		h := make(chan int64, 1)
		handles[i] = h
		go func(i int64) { h <- i }(int64(i))
	}
	var sum int64
	for _, h := range handles {
		sum += <-h
	}
	if want := int64(n) * int64(n-1) / 2; sum != want {
		b.Fatalf("ScaleSpawn: sum %d, want %d", sum, want)
	}
}

// splitmix64 is the harness's pseudo-random sleep of timer i (the same
// function as scale.rs's splitmix).
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// cpuNanos is the CPU time (user + system) of the whole process so far.
func cpuNanos(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func TestScaleTimers(t *testing.T) {
	n := envInt(t, "GORT_SCALE_N")
	window := uint64(envInt(t, "GORT_SCALE_WINDOW_NS"))
	if n == 0 || window == 0 {
		t.Fatal("GORT_SCALE_N and GORT_SCALE_WINDOW_NS must be positive")
	}
	late := make([]int64, n)
	done := make(chan struct{}, 1)
	remaining := new(int64)
	*remaining = int64(n)
	cpu0 := cpuNanos(t)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			go func(i int) {
				d := time.Duration(splitmix64(uint64(i)) % window)
				deadline := time.Now().Add(d)
				time.Sleep(d)
				late[i] = int64(time.Since(deadline))
				if atomic.AddInt64(remaining, -1) == 0 {
					done <- struct{}{}
				}
			}(i)
		}
	}()
	<-done
	wall := time.Since(start)
	cpu := cpuNanos(t) - cpu0
	early := 0
	for _, l := range late {
		if l < 0 {
			early++
		}
	}
	if early > 0 {
		t.Fatalf("%d of %d timers woke before their deadline", early, n)
	}
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	p99 := late[int(float64(n-1)*0.99+0.5)]
	fmt.Printf("cpu_ns_per_timer=%.1f late_p99_ns=%d wall_ns=%d\n", float64(cpu)/float64(n), p99, wall.Nanoseconds())
}
