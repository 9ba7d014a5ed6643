//go:build !race

package dispatch

// raceEnabled says the tests run under the race detector.
const raceEnabled = false
