// Go's column of the runtime table: the scheduler, skynet and timer
// workloads of benches/src/workload/{scheduler,timers}.rs written with
// goroutines, and the TCP echo server of benches/src/bin/net.rs. Keep the
// files in step. One b.N iteration is one whole run of the workload (the
// Rust side times one run), so ns/op is the time of one run.
//
// Sizes: the full sizes by default, the --quick sizes with -gort.quick.
// Go has no join handles: where a Rust workload joins its tasks, the Go
// version waits for each goroutine's result on a channel of its own (the
// spawn rows' "go_waitgroup" variants wait on one WaitGroup instead). Go has no spawn from outside the
// runtime either: the "remote" workloads (spawned from the bench thread
// through the runtime's injector in Rust) start their goroutines from the
// benchmark goroutine, which runs on a P (its local run queue).
package gortbench

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var quick = flag.Bool("gort.quick", false, "the harness's --quick sizes")

func size(full, small int) int {
	if *quick {
		return small
	}
	return full
}

// spawn_many_local: inside a goroutine, start n goroutines that bump a
// counter; the one that brings it to n signals.
func BenchmarkSpawnManyLocal(b *testing.B) {
	n := int64(size(10000, 1000))
	for i := 0; i < b.N; i++ {
		var bumped int64
		done := make(chan struct{}, 1)
		go func() {
			for j := int64(0); j < n; j++ {
				go func() {
					if atomic.AddInt64(&bumped, 1) == n {
						done <- struct{}{}
					}
				}()
			}
		}()
		<-done
	}
}

// spawn_many_remote_idle: from the benchmark goroutine, start n empty
// goroutines, each with its own completion channel (the Rust side's join
// handle: one per task, kept in a slice, waited on in order), and wait
// for each.
func BenchmarkSpawnManyRemoteIdle(b *testing.B) {
	n := size(10000, 1000)
	for i := 0; i < b.N; i++ {
		spawnAndJoin(n)
	}
}

// spawn_many_remote_idle/go_waitgroup: the same with one WaitGroup for
// all n goroutines instead of a channel each (less work than the Rust
// rows do: no per-task handle).
func BenchmarkSpawnManyRemoteIdleWaitGroup(b *testing.B) {
	n := size(10000, 1000)
	for i := 0; i < b.N; i++ {
		spawnAndWait(n)
	}
}

func spawnAndJoin(n int) {
	handles := make([]chan struct{}, 0, n)
	for j := 0; j < n; j++ {
		done := make(chan struct{})
		handles = append(handles, done)
		go close(done)
	}
	joined := 0
	for _, done := range handles {
		<-done
		joined++
	}
	if joined != n {
		panic(fmt.Sprintf("spawn_many_remote: joined %d of %d", joined, n))
	}
}

func spawnAndWait(n int) {
	var wg sync.WaitGroup
	wg.Add(n)
	for j := 0; j < n; j++ {
		go wg.Done()
	}
	wg.Wait()
}

// spawn_many_remote_busy: as SpawnManyRemoteIdle while 2 goroutines per P
// loop on Gosched followed by a 10 us spin that yields the thread (tokio's
// stall), started before the timer and stopped after it.
func BenchmarkSpawnManyRemoteBusy(b *testing.B) {
	spawnManyRemoteBusy(b, spawnAndJoin)
}

// spawn_many_remote_busy/go_waitgroup: the same with one WaitGroup.
func BenchmarkSpawnManyRemoteBusyWaitGroup(b *testing.B) {
	spawnManyRemoteBusy(b, spawnAndWait)
}

func spawnManyRemoteBusy(b *testing.B, spawn func(int)) {
	n := size(10000, 1000)
	busy := 2 * runtime.GOMAXPROCS(0)
	var stop int32
	var started, stopped sync.WaitGroup
	started.Add(busy)
	stopped.Add(busy)
	for j := 0; j < busy; j++ {
		go func() {
			started.Done()
			for atomic.LoadInt32(&stop) == 0 {
				runtime.Gosched()
				// tokio's stall: spin 10 us, yielding the OS thread
				// (sched_yield) on every turn, as the Rust version does.
				stall := time.Now()
				for time.Since(stall) < 10*time.Microsecond {
					osYield()
				}
			}
			stopped.Done()
		}()
	}
	started.Wait()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spawn(n)
	}
	b.StopTimer()
	atomic.StoreInt32(&stop, 1)
	stopped.Wait()
}

// ping_pong: a root goroutine starts n pairs; each starts a partner and
// bounces one value each way over a one-slot channel (a oneshot); the pair
// waits for its partner, the root for every pair, and checks the sum.
func BenchmarkPingPong(b *testing.B) {
	n := uint64(size(1000, 200))
	for i := 0; i < b.N; i++ {
		result := make(chan uint64, 1)
		go func() {
			pairs := make([]chan uint64, n)
			for k := uint64(0); k < n; k++ {
				pair := make(chan uint64, 1)
				pairs[k] = pair
				go func(k uint64) {
					ping, pong := make(chan uint64, 1), make(chan uint64, 1)
					partner := make(chan struct{})
					go func() {
						pong <- 1 + <-ping
						close(partner)
					}()
					ping <- k
					v := <-pong
					<-partner
					pair <- v
				}(k)
			}
			var sum uint64
			for _, pair := range pairs {
				sum += <-pair
			}
			result <- sum
		}()
		if sum := <-result; sum != n*(n+1)/2 {
			b.Fatalf("PingPong: sum %d, want %d", sum, n*(n+1)/2)
		}
	}
}

// yield_many: 200 goroutines each call Gosched 1,000 times; the total of
// their counts is checked.
func BenchmarkYieldMany(b *testing.B) {
	const tasks = 200
	yields := size(1000, 100)
	for i := 0; i < b.N; i++ {
		counts := make(chan int, tasks)
		for t := 0; t < tasks; t++ {
			go func() {
				done := 0
				for y := 0; y < yields; y++ {
					runtime.Gosched()
					done++
				}
				counts <- done
			}()
		}
		total := 0
		for t := 0; t < tasks; t++ {
			total += <-counts
		}
		if total != tasks*yields {
			b.Fatalf("YieldMany: %d yields, want %d", total, tasks*yields)
		}
	}
}

// chained_spawn: a chain of 1,000 goroutines, each starting the next; the
// last signals its hop count.
func BenchmarkChainedSpawn(b *testing.B) {
	depth := size(1000, 200)
	for i := 0; i < b.N; i++ {
		done := make(chan int, 1)
		var link func(left, hops int)
		link = func(left, hops int) {
			if left == 0 {
				done <- hops
				return
			}
			go link(left-1, hops+1)
		}
		go link(depth, 0)
		if hops := <-done; hops != depth {
			b.Fatalf("ChainedSpawn: %d hops, want %d", hops, depth)
		}
	}
}

// skynet: a tree of 1,111,111 goroutines, 10 children per node; leaves send
// their index, nodes the sum of their children's.
func BenchmarkSkynet(b *testing.B) {
	leaves := uint64(size(1000000, 10000))
	for i := 0; i < b.N; i++ {
		out := make(chan uint64, 1)
		go skynet(out, 0, leaves)
		if sum := <-out; sum != leaves*(leaves-1)/2 {
			b.Fatalf("Skynet: sum %d, want %d", sum, leaves*(leaves-1)/2)
		}
	}
}

func skynet(out chan<- uint64, num, size uint64) {
	if size == 1 {
		out <- num
		return
	}
	child := size / 10
	children := make(chan uint64, 10)
	for k := uint64(0); k < 10; k++ {
		go skynet(children, num+k*child, child)
	}
	var sum uint64
	for k := 0; k < 10; k++ {
		sum += <-children
	}
	out <- sum
}

// timers_sleep_many: inside a goroutine, start n goroutines that sleep
// 0-10 ms (sleep_of in timers.rs) and count themselves; the last signals.
// A sleep that ends before its deadline fails the benchmark.
func BenchmarkTimersSleepMany(b *testing.B) {
	n := int64(size(1000000, 10000))
	for i := 0; i < b.N; i++ {
		var done, early int64
		signal := make(chan struct{}, 1)
		go func() {
			for j := int64(0); j < n; j++ {
				go func(j int64) {
					d := time.Duration((j*7919)%11) * time.Millisecond
					deadline := time.Now().Add(d)
					time.Sleep(d)
					if time.Now().Before(deadline) {
						atomic.AddInt64(&early, 1)
					}
					if atomic.AddInt64(&done, 1) == n {
						signal <- struct{}{}
					}
				}(j)
			}
		}()
		<-signal
		if early != 0 {
			b.Fatalf("TimersSleepMany: %d sleeps woke early", early)
		}
	}
}

// timers_timeout_cancel: one goroutine per P creates n/P timers of 1 s,
// one after the other: each timer is started, the goroutine yields once
// (the Rust future wakes itself and is polled again), the select takes a
// value that is there by then, and the timer is stopped. All counted.
func BenchmarkTimersTimeoutCancel(b *testing.B) {
	n := size(1000000, 10000)
	procs := runtime.GOMAXPROCS(0)
	per := n / procs
	for i := 0; i < b.N; i++ {
		sums := make(chan int, procs)
		for p := 0; p < procs; p++ {
			go func() {
				ready := make(chan int, 1)
				sum := 0
				for k := 0; k < per; k++ {
					t := time.NewTimer(time.Second)
					// The Rust future is pending on its first poll and
					// wakes itself: the task goes round the scheduler once
					// before the timeout completes.
					runtime.Gosched()
					ready <- 1
					select {
					case v := <-ready:
						sum += v
					case <-t.C:
						sum = -1 << 40
					}
					t.Stop()
				}
				sums <- sum
			}()
		}
		total := 0
		for p := 0; p < procs; p++ {
			total += <-sums
		}
		if total != per*procs {
			b.Fatalf("TimersTimeoutCancel: %d completed, want %d", total, per*procs)
		}
	}
}

// TestEchoServer is the Go server of the tcp_echo rows, run only when
// GORT_BENCH_ECHO_SERVER=1: it prints port=<port>, then echoes every
// connection (read up to 4 KiB, write it all back, as the Rust servers do)
// until its stdin closes.
func TestEchoServer(t *testing.T) {
	if os.Getenv("GORT_BENCH_ECHO_SERVER") != "1" {
		t.Skip("the harness's echo server; set GORT_BENCH_ECHO_SERVER=1")
	}
	// GORT_BENCH_ECHO_UNIX=<path>: on a Unix socket at that path (the
	// harness removes the file) instead of TCP.
	unixPath := os.Getenv("GORT_BENCH_ECHO_UNIX")
	var ln net.Listener
	var err error
	if unixPath != "" {
		ln, err = net.Listen("unix", unixPath)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(os.Stdin)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				os.Exit(0)
			}
		}
	}()
	if unixPath != "" {
		fmt.Printf("path=%s\n", unixPath)
	} else {
		fmt.Printf("port=%d\n", ln.Addr().(*net.TCPAddr).Port)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		go func(c net.Conn) {
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(c)
	}
}
