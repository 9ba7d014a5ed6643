//go:build !linux

package transform

// residentBytes is not known here: the worker's own memory limits bound it.
func residentBytes(int) int64 { return 0 }
