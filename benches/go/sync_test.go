// Go's sync benchmarks in the shapes of src/sync/mutex_test.go and
// waitgroup_test.go, plus a contended semaphore (a buffered channel, Go's
// idiom) and the cancellation of a tree of contexts, for the harness's
// sync/go suite; benches/src/workload/go_sync.rs mirrors them. Keep the
// two files in step.
package gortbench

import (
	"context"
	"sync"
	"testing"
)

// BenchmarkMutexUncontended: each goroutine locks its own mutex.
func BenchmarkMutexUncontended(b *testing.B) {
	type padded struct {
		sync.Mutex
		_ [128]byte
	}
	b.RunParallel(func(pb *testing.PB) {
		var mu padded
		for pb.Next() {
			mu.Lock()
			mu.Unlock()
		}
	})
}

func lockShared(b *testing.B, withWork bool) {
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		foo := 1
		for pb.Next() {
			mu.Lock()
			mu.Unlock()
			if withWork {
				for i := 0; i < 100; i++ {
					foo *= 2
					foo /= 2
				}
			}
		}
		_ = foo
	})
}

// BenchmarkMutex: all goroutines share one mutex.
func BenchmarkMutex(b *testing.B) { lockShared(b, false) }

// BenchmarkMutexWork: one shared mutex, local work after each unlock.
func BenchmarkMutexWork(b *testing.B) { lockShared(b, true) }

// BenchmarkWaitGroupUncontended: each goroutine adds, is done and waits
// on its own group.
func BenchmarkWaitGroupUncontended(b *testing.B) {
	type padded struct {
		sync.WaitGroup
		_ [128]byte
	}
	b.RunParallel(func(pb *testing.PB) {
		var wg padded
		for pb.Next() {
			wg.Add(1)
			wg.Done()
			wg.Wait()
		}
	})
}

// BenchmarkWaitGroupAddDone: all goroutines add and are done on one group.
func BenchmarkWaitGroupAddDone(b *testing.B) {
	var wg sync.WaitGroup
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			wg.Add(1)
			wg.Done()
		}
	})
}

// BenchmarkSemaphoreContended: 2 x GOMAXPROCS goroutines take and give
// back one of 2 slots of a buffered channel.
func BenchmarkSemaphoreContended(b *testing.B) {
	sem := make(chan struct{}, 2)
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sem <- struct{}{}
			<-sem
		}
	})
}

// BenchmarkContextCancelTree: b.N contexts under one root, a goroutine
// waiting on each one's Done; timed from cancelling the root until every
// goroutine saw it.
func BenchmarkContextCancelTree(b *testing.B) {
	root, cancel := context.WithCancel(context.Background())
	var ready, done sync.WaitGroup
	ready.Add(b.N)
	done.Add(b.N)
	cancels := make([]context.CancelFunc, b.N)
	for i := 0; i < b.N; i++ {
		ctx, c := context.WithCancel(root)
		cancels[i] = c
		go func() {
			ready.Done()
			<-ctx.Done()
			if ctx.Err() == context.Canceled {
				done.Done()
			}
		}()
	}
	ready.Wait()
	b.ResetTimer()
	cancel()
	done.Wait()
	b.StopTimer()
	for _, c := range cancels {
		c()
	}
}
