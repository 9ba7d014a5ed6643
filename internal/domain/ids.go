package domain

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns prefix + "_" + a ULID. ULIDs sort by creation time, so ids
// double as cursors, and are monotonic within one process.
func NewID(prefix string) string {
	return NewIDAt(prefix, time.Now())
}

// Now is the time as stored: UTC, to the microsecond, so that an answer
// shows the same times a later read does.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// NewIDAt is NewID for a given time.
func NewIDAt(prefix string, t time.Time) string {
	idMu.Lock()
	id := ulid.MustNew(ulid.Timestamp(t), idEntropy)
	idMu.Unlock()
	return prefix + "_" + id.String()
}

// IDFloor is the smallest id of the prefix created at t: every id made
// before t sorts below it, which turns "older than t" into an index range.
func IDFloor(prefix string, t time.Time) string {
	var id ulid.ULID
	if err := id.SetTime(ulid.Timestamp(t)); err != nil {
		panic(err) // only for times past the year 10889
	}
	return prefix + "_" + id.String()
}

// Id prefixes of Herald's objects.
const (
	PrefixEvent    = "evt"
	PrefixEndpoint = "ep"
	PrefixDelivery = "dlv"
	PrefixAttempt  = "atm"
)

// IDAfter returns the smallest id of id's prefix that sorts after id, at
// the same instant. Ids made at once by several goroutines interleave: one
// made after another, at the same millisecond, may sort before it when
// another goroutine made one at a later millisecond in between. A batch
// whose order matters (per-job order) follows each id with IDAfter when it
// does not sort after the one before it.
func IDAfter(id string) string {
	i := strings.LastIndexByte(id, '_')
	u, err := ulid.ParseStrict(id[i+1:])
	if err != nil {
		panic("domain: IDAfter of a malformed id " + id) // only Herald's own ids pass here
	}
	for b := len(u) - 1; b >= 0; b-- {
		u[b]++
		if u[b] != 0 {
			break
		}
	}
	return id[:i+1] + u.String()
}
