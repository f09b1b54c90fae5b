//go:build linux

package gortbench

import (
	"syscall"
	"time"
	"unsafe"
)

// osYield gives up the OS thread (sched_yield), as Rust's
// std::thread::yield_now does in tokio's stall.
func osYield() {
	syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}

// blockThread blocks the OS thread in a raw nanosleep syscall for d
// (blocking_stall): the goroutine enters a syscall, so sysmon can hand its
// P off. Go's preemption signals interrupt it (EINTR); it sleeps on for
// what remains.
func blockThread(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		_, _, errno := syscall.Syscall(syscall.SYS_NANOSLEEP,
			uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
		if errno != syscall.EINTR {
			return
		}
	}
}
