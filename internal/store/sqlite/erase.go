package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Bounds on emptying the write-ahead log after an erasure: a checkpoint
// cannot pass a reader that still reads an older snapshot, nor run while
// the writer commits, so it is tried a few times, a little apart.
const (
	truncateTries = 5
	truncatePause = 200 * time.Millisecond
)

// truncateWAL copies the write-ahead log into the database file and
// empties it. secure_delete zeroes what an erasure freed in the database
// file, but the log keeps the pages as they were before until it is
// reset; TRUNCATE resets it to zero bytes. It reports false when readers
// or the writer held it through every try: the erased rows are then
// zeroed in the database file, and the log's old pages go at the next
// checkpoint that completes (the next erasure's, or its repeat).
func (s *Store) truncateWAL(ctx context.Context) (bool, error) {
	conn, err := s.checkpoint.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlite checkpoint: %w", err)
	}
	defer conn.Close()
	// The busy handler would wait up to busy_timeout for each reader;
	// the tries below bound the wait instead.
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 1000`); err != nil {
		return false, fmt.Errorf("sqlite checkpoint: %w", err)
	}
	defer func() {
		// The dsn's value again, for the background checkpoints.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA busy_timeout = 10000`)
	}()
	for try := 1; ; try++ {
		var busy, logFrames, done int
		if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			return false, fmt.Errorf("sqlite checkpoint: %w", err)
		}
		if busy == 0 {
			return true, nil
		}
		if try == truncateTries {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(truncatePause):
		}
	}
}
