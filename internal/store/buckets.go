package store

import (
	"fmt"
	"time"
)

// TokenBucket is a rate limit that every process on a database shares:
// the bucket holds at most Burst tokens and gains Tokens every PerSeconds
// seconds; each request spends one.
type TokenBucket struct {
	// ID names the bucket: the id of the endpoint or API key it limits.
	ID                        string
	Tokens, PerSeconds, Burst int
}

// MaxBucketTokens bounds a bucket's rate and burst, which keeps the
// store's integer arithmetic (millionths of a token) far from overflow.
const MaxBucketTokens = 10_000_000

// Check refuses a bucket the store cannot keep.
func (b TokenBucket) Check() error {
	switch {
	case b.ID == "":
		return fmt.Errorf("token bucket without an id")
	case b.Tokens < 1 || b.Tokens > MaxBucketTokens, b.Burst < 1 || b.Burst > MaxBucketTokens:
		return fmt.Errorf("token bucket %s: rate %d and burst %d must be 1 to %d", b.ID, b.Tokens, b.Burst, MaxBucketTokens)
	case b.PerSeconds < 1 || b.PerSeconds > 3600:
		return fmt.Errorf("token bucket %s: a period of %d s is not 1 to 3600", b.ID, b.PerSeconds)
	}
	return nil
}

// TimeFor is how long the bucket takes to gain n tokens.
func (b TokenBucket) TimeFor(n float64) time.Duration {
	if n <= 0 || b.Tokens <= 0 {
		return 0
	}
	return time.Duration(n * float64(b.PerSeconds) / float64(b.Tokens) * float64(time.Second))
}
