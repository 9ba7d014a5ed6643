//go:build !unix

package transform

import "syscall"

func workerSysProcAttr() *syscall.SysProcAttr { return nil }
