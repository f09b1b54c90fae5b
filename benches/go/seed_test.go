// The seed's table on Go (benches/src/workload/seed.rs mirrors these on
// gort, tokio and OS threads; keep them in step):
//
//   - TestSeedParkRSS: GORT_PARK_N goroutines parked on a channel receive
//     each; prints the resident memory they added per goroutine (run in a
//     fresh process per measurement, as the harness does).
//   - BenchmarkSeedCreate: b.N goroutines started from one goroutine, each
//     adding its index and finishing; all waited for; the sum checked.
//   - BenchmarkSeedSwitch: two goroutines ping-pong a counter over two
//     unbuffered channels; b.N switches (b.N/2 round trips).
package gortbench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rssBytes reads VmRSS from /proc/self/status.
func rssBytes(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			rest := strings.TrimPrefix(line, "VmRSS:")
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func TestSeedParkRSS(t *testing.T) {
	env := os.Getenv("GORT_PARK_N")
	if env == "" {
		t.Skip("set GORT_PARK_N to the number of goroutines to park")
	}
	n, err := strconv.Atoi(env)
	if err != nil || n <= 0 {
		t.Fatalf("GORT_PARK_N must be a positive integer, got %q", env)
	}
	before := rssBytes(t)
	ch := make(chan struct{})
	var parked, done int64
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&parked, 1)
			<-ch
			atomic.AddInt64(&done, 1)
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	after := rssBytes(t)
	close(ch)
	wg.Wait()
	if atomic.LoadInt64(&done) != int64(n) {
		t.Fatal("not every goroutine finished")
	}
	fmt.Printf("rss_before=%d rss_after=%d per_unit=%.1f\n", before, after, float64(after-before)/float64(n))
}

func BenchmarkSeedCreate(b *testing.B) {
	var sum int64
	var wg sync.WaitGroup
	wg.Add(b.N)
	for i := 0; i < b.N; i++ {
		go func(i int64) {
			atomic.AddInt64(&sum, i)
			wg.Done()
		}(int64(i))
	}
	wg.Wait()
	n := int64(b.N)
	if sum != n*(n-1)/2 {
		b.Fatalf("SeedCreate: sum %d, want %d", sum, n*(n-1)/2)
	}
}

func BenchmarkSeedSwitch(b *testing.B) {
	trips := b.N / 2
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	v := 0
	for i := 0; i < trips; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	if v != trips {
		b.Fatalf("SeedSwitch: counter %d, want %d", v, trips)
	}
}
