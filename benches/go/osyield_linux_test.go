//go:build linux

package gortbench

import "syscall"

// osYield gives up the OS thread (sched_yield), as Rust's
// std::thread::yield_now does in tokio's stall.
func osYield() {
	syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}
