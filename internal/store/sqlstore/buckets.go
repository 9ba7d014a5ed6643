package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// microTokens is how many units of a bucket's tokens column make a token:
// the refill of a few microseconds is a whole number of them, so the
// statement below is exact integer arithmetic on both databases (a cast
// of a fraction to an integer rounds on PostgreSQL and truncates on
// SQLite).
const microTokens = 1_000_000

// takeTokensSQL refills a bucket for the time since its last take and
// takes from it, in one statement, under the row's lock: processes that
// take at once queue on the row, and none sees tokens another took. A new
// bucket is the inserted row: full, less what this take took. The SET
// expressions read the row as it was; excluded is the row offered, which
// carries this take's time, rate and the most it may take (last_took).
var takeTokensSQL = func() string {
	// elapsed is the time since the last take, no more than an empty
	// bucket takes to fill (which also bounds the products below), and
	// never negative when processes' clocks differ a little.
	elapsed := `(CASE WHEN excluded.updated_at <= rate_buckets.updated_at THEN 0
		WHEN excluded.updated_at - rate_buckets.updated_at > FILL THEN FILL
		ELSE excluded.updated_at - rate_buckets.updated_at END)`
	elapsed = strings.ReplaceAll(elapsed, "FILL", `(excluded.burst * 1000000 * excluded.per_seconds / excluded.rate_tokens + 1)`)
	// Microseconds times tokens a second is millionths of a token.
	gained := `(rate_buckets.tokens + ` + elapsed + ` * excluded.rate_tokens / excluded.per_seconds)`
	refilled := `(CASE WHEN GAINED > excluded.burst * 1000000 THEN excluded.burst * 1000000 ELSE GAINED END)`
	refilled = strings.ReplaceAll(refilled, "GAINED", gained)
	took := strings.ReplaceAll(`(CASE WHEN REFILLED / 1000000 > excluded.last_took THEN excluded.last_took ELSE REFILLED / 1000000 END)`,
		"REFILLED", refilled)
	return `INSERT INTO rate_buckets (id, tokens, last_took, updated_at, rate_tokens, per_seconds, burst)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET tokens = ` + refilled + ` - ` + took + ` * 1000000, last_took = ` + took + `,
			updated_at = CASE WHEN excluded.updated_at > rate_buckets.updated_at THEN excluded.updated_at ELSE rate_buckets.updated_at END,
			rate_tokens = excluded.rate_tokens, per_seconds = excluded.per_seconds, burst = excluded.burst
		RETURNING tokens, last_took`
}()

func (db *DB) TakeTokens(ctx context.Context, b store.TokenBucket, want int, now time.Time) (int, float64, error) {
	if err := b.Check(); err != nil {
		return 0, 0, err
	}
	if want < 1 {
		return 0, 0, fmt.Errorf("take tokens from %s: want %d", b.ID, want)
	}
	want = min(want, b.Burst)
	// An endpoint's bucket is the dispatcher's: on its connections (see
	// Conns), so that a flood of publishes does not slow delivery.
	write := db.write
	if strings.HasPrefix(b.ID, domain.PrefixEndpoint+"_") {
		write = db.queueWrite
	}
	var tokens int64
	var took int
	err := write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, db.q(takeTokensSQL), b.ID, int64(b.Burst-want)*microTokens, want, micros(now),
			b.Tokens, b.PerSeconds, b.Burst).Scan(&tokens, &took)
	})
	if err != nil {
		return 0, 0, db.wrap("take tokens", err)
	}
	return took, float64(tokens) / microTokens, nil
}

// purgeBuckets drops buckets that were full again by cutoff: they carry
// no state (a bucket never taken from is full).
func (db *DB) purgeBuckets(ctx context.Context, tx *sql.Tx, cutoff time.Time, limit int) (int64, error) {
	return db.execCount(ctx, tx, `DELETE FROM rate_buckets WHERE id IN (SELECT id FROM rate_buckets
		WHERE updated_at < ? AND ? - updated_at >= (burst * 1000000 - tokens) * per_seconds / rate_tokens LIMIT ?)`,
		micros(cutoff), micros(cutoff), limit)
}
