//go:build unix

package transform

import "syscall"

// workerSysProcAttr puts a worker in a process group of its own, so that a
// Ctrl-C at the terminal reaches the server, which shuts down in order,
// and not its workers mid-run; a worker ends when its input closes.
func workerSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
