// Package retention removes what is older than the retention period, in
// bounded batches and in the background, so that the tables stay the size
// of the period and delivery never waits behind one long delete.
package retention

import (
	"context"
	"log/slog"
	"time"
)

// Purger is the store's bulk delete.
type Purger interface {
	Purge(ctx context.Context, cutoff time.Time, limit int) (int, error)
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
	total := 0
	for ctx.Err() == nil {
		n, err := p.Purge(ctx, cutoff, cfg.Batch)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				cfg.Logger.Warn("retention sweep failed; the next one will go on", "removed", total, "err", err)
			}
			return
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Pause):
		}
	}
	if total > 0 {
		cfg.Logger.Info("retention sweep", "removed_rows", total, "older_than", cutoff.Format(time.RFC3339))
	}
}
