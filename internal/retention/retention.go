// Package retention removes what is older than the retention period, in
// bounded batches and in the background, so that the tables stay the size
// of the period and delivery never waits behind one long delete.
package retention

import (
	"context"
	"log/slog"
	"time"
)

// Purger is the store's bulk delete, and its expiry of the deliveries
// paused endpoints hold.
type Purger interface {
	Purge(ctx context.Context, cutoff time.Time, limit int) (int, error)
	ExpirePaused(ctx context.Context, cutoff, now time.Time, limit int) (int, error)
}

// Config tunes the sweeper; zero values take the defaults.
type Config struct {
	// Period is how long events, jobs, deliveries, attempts and audit log
	// entries are kept. Default 30 days.
	Period time.Duration
	// Every is the time between sweeps. Default 10 minutes.
	Every time.Duration
	// Batch is the most rows of each kind one transaction deletes. Default 2,000.
	Batch int
	// Pause is the rest between batches that leaves the database to delivery. Default 50 ms.
	Pause  time.Duration
	Logger *slog.Logger

	// PausedExpiry is how long a paused endpoint holds a delivery: older
	// pending ones are cancelled, a sensitive event's data erased with
	// them. Default 7 days.
	PausedExpiry time.Duration
}

// Run sweeps until ctx ends, starting with one sweep at once.
func Run(ctx context.Context, p Purger, cfg Config) {
	if cfg.Period <= 0 {
		cfg.Period = 30 * 24 * time.Hour
	}
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 2000
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 50 * time.Millisecond
	}
	if cfg.PausedExpiry <= 0 {
		cfg.PausedExpiry = 7 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	for {
		sweep(ctx, p, cfg)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func sweep(ctx context.Context, p Purger, cfg Config) {
	cutoff := time.Now().Add(-cfg.Period)
	if n := batches(ctx, cfg, func() (int, error) { return p.Purge(ctx, cutoff, cfg.Batch) }); n > 0 {
		cfg.Logger.Info("retention sweep", "removed_rows", n, "older_than", cutoff.Format(time.RFC3339))
	}
	held := time.Now().Add(-cfg.PausedExpiry)
	if n := batches(ctx, cfg, func() (int, error) { return p.ExpirePaused(ctx, held, time.Now(), cfg.Batch) }); n > 0 {
		cfg.Logger.Info("expired the deliveries paused endpoints held", "deliveries", n, "created_before", held.Format(time.RFC3339))
	}
}

// batches runs one batch after another, with a pause between, until one
// does nothing or fails, and reports how many rows they did.
func batches(ctx context.Context, cfg Config, batch func() (int, error)) int {
	total := 0
	for ctx.Err() == nil {
		n, err := batch()
		total += n
		if err != nil {
			if ctx.Err() == nil {
				cfg.Logger.Warn("retention sweep failed; the next one will go on", "done", total, "err", err)
			}
			return total
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Pause):
		}
	}
	return total
}
