//go:build !linux || race

package transform

// setHardMemoryLimit has no operating-system limit to set here: the Go
// runtime's soft limit and the pool's watch on the worker bound it.
func setHardMemoryLimit(int64) {}
