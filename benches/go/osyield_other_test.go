//go:build !linux

package gortbench

import "runtime"

// osYield: without sched_yield in Go's syscall package here, the nearest
// thing (it yields the P, not the thread).
func osYield() {
	runtime.Gosched()
}
