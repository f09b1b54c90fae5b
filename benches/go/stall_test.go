// The stall table on Go (benches/src/workload/stall.rs runs the same on
// gort, tokio and smol; keep them in step). Both are tests, run in a fresh
// process per measured run; each prints one line
// `window_ns=<ns> ops=<n> late_ns=<ns>,<ns>,...`: the window's length, the
// operations done in it, and how late each 1 ms tick due in it fired.
//
//   - TestBlockingStall (GORT_STALL_K, GORT_STALL_BLOCK_MS,
//     GORT_STALL_LEAD_MS; GOMAXPROCS 2): a ping-pong pair on two
//     capacity-1 channels and a ticker run; after the lead, k goroutines
//     each block their thread in a raw nanosleep syscall for the block
//     (k = 0: the test goroutine sleeps instead). The window runs from the
//     first blocker's start to the last one's end; ops = round trips in it.
//   - TestGreedyLoop (GORT_GREEDY_N; GOMAXPROCS 1): once the ticker runs,
//     n sends then receives on a channel of capacity 128 that always holds
//     a value. The window is the loop; ops = n.
package gortbench

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// envInt reads a positive (or zero) integer from the environment; the test
// is skipped when the variable is unset (a plain `go test` run).
func envInt(t *testing.T, name string) int {
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("set %s (the harness does)", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s must be a whole number, got %q", name, v)
	}
	return n
}

type tick struct{ due, late time.Duration }

// ticker sleeps to every 1 ms deadline after base until one falls after
// stopAt (ns since base, set by stop), recording how late each one woke.
type ticker struct {
	base   time.Time
	stopAt int64
	ticks  int64
	done   chan []tick
}

func startTicker() *ticker {
	tk := &ticker{base: time.Now(), stopAt: math.MaxInt64, done: make(chan []tick, 1)}
	go func() {
		ticks := make([]tick, 0, 512)
		for due := time.Millisecond; int64(due) <= atomic.LoadInt64(&tk.stopAt); due += time.Millisecond {
			time.Sleep(due - time.Since(tk.base))
			ticks = append(ticks, tick{due, time.Since(tk.base) - due})
			atomic.AddInt64(&tk.ticks, 1)
		}
		tk.done <- ticks
	}()
	return tk
}

func (tk *ticker) now() time.Duration { return time.Since(tk.base) }

func (tk *ticker) stop() []tick {
	atomic.StoreInt64(&tk.stopAt, int64(tk.now()))
	return <-tk.done
}

// report prints the harness's line for the ticks due in [start, end].
func report(ticks []tick, start, end time.Duration, ops int64) {
	late := []string{}
	for _, tk := range ticks {
		if tk.due >= start && tk.due <= end {
			late = append(late, strconv.FormatInt(int64(tk.late), 10))
		}
	}
	fmt.Printf("window_ns=%d ops=%d late_ns=%s\n", int64(end-start), ops, strings.Join(late, ","))
}

type span struct {
	start, end           time.Duration
	tripsBefore, tripsAt int64
}

func TestBlockingStall(t *testing.T) {
	k := envInt(t, "GORT_STALL_K")
	block := time.Duration(envInt(t, "GORT_STALL_BLOCK_MS")) * time.Millisecond
	lead := time.Duration(envInt(t, "GORT_STALL_LEAD_MS")) * time.Millisecond
	tk := startTicker()

	var trips, stopping int64
	ping, pong := make(chan int64, 1), make(chan int64, 1)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	pinger := make(chan error, 1)
	go func() {
		var v, n int64
		for atomic.LoadInt64(&stopping) == 0 {
			ping <- v
			v = <-pong
			n++
			atomic.StoreInt64(&trips, n)
		}
		close(ping)
		if v != n {
			pinger <- fmt.Errorf("counter %d after %d round trips", v, n)
			return
		}
		pinger <- nil
	}()

	time.Sleep(lead)
	measure := func(sleep func(time.Duration)) span {
		s := span{start: tk.now(), tripsBefore: atomic.LoadInt64(&trips)}
		sleep(block)
		s.end, s.tripsAt = tk.now(), atomic.LoadInt64(&trips)
		return s
	}
	spans := make([]span, 0, k+1)
	if k == 0 {
		spans = append(spans, measure(time.Sleep))
	} else {
		done := make(chan span, k)
		for i := 0; i < k; i++ {
			go func() { done <- measure(blockThread) }()
		}
		for i := 0; i < k; i++ {
			spans = append(spans, <-done)
		}
	}
	atomic.StoreInt64(&stopping, 1)
	ticks := tk.stop()
	if err := <-pinger; err != nil {
		t.Fatal(err)
	}

	first, last := spans[0], spans[0]
	for _, s := range spans {
		if s.end-s.start < block {
			t.Fatalf("a blocking goroutine slept %v, less than %v", s.end-s.start, block)
		}
		if s.start < first.start {
			first = s
		}
		if s.end > last.end {
			last = s
		}
	}
	report(ticks, first.start, last.end, last.tripsAt-first.tripsBefore)
}

func TestGreedyLoop(t *testing.T) {
	n := int64(envInt(t, "GORT_GREEDY_N"))
	tk := startTicker()
	for atomic.LoadInt64(&tk.ticks) == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	ch := make(chan int64, 128)
	ch <- 0
	start := tk.now()
	var sum int64
	for i := int64(1); i <= n; i++ {
		ch <- i
		sum += <-ch
	}
	end := tk.now()
	ticks := tk.stop()
	if sum != n*(n-1)/2 {
		t.Fatalf("received values sum to %d, want %d", sum, n*(n-1)/2)
	}
	report(ticks, start, end, n)
}
