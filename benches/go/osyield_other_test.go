//go:build !linux

package gortbench

import (
	"runtime"
	"time"
)

// osYield: without sched_yield in Go's syscall package here, the nearest
// thing (it yields the P, not the thread).
func osYield() {
	runtime.Gosched()
}

// blockThread: without a raw nanosleep here, time.Sleep (it parks the
// goroutine, not the thread: blocking_stall then blocks nothing).
func blockThread(d time.Duration) {
	time.Sleep(d)
}
