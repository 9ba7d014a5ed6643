//go:build linux && !race

package transform

import (
	"os"
	"syscall"
)

// setHardMemoryLimit caps the worker's data segment (RLIMIT_DATA: since
// Linux 4.7 every private writable mapping, which is where the Go heap
// lives) at what it holds now plus memory, so that one huge allocation
// ("x" * 1e9) fails at once instead of taking the machine's memory. Not
// under the race detector, whose shadow memory counts against the same
// limit and fails first; there the pool's watch on the worker's resident
// size is the bound.
func setHardMemoryLimit(memory int64) {
	data := procStatusBytes("/proc/self/status", "VmData:")
	if data <= 0 {
		return
	}
	lim := uint64(data + memory)
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
		os.Stderr.WriteString("transform worker: set RLIMIT_DATA: " + err.Error() + "\n")
	}
}
