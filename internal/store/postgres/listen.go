package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// dueChannel is the NOTIFY channel of transactions that made deliveries due.
const dueChannel = "herald_due"

// Listen calls wake whenever another process (or this one) commits
// deliveries that are due now, until ctx ends. It holds one connection of
// its own outside the pool and reconnects by itself; while it is
// disconnected the dispatcher's poll still finds the work.
func (s *Store) Listen(ctx context.Context, wake func()) {
	connURL, _, err := splitPoolSizes(s.url)
	if err != nil {
		slog.Error("listen: bad database URL", "err", err)
		return
	}
	for wait := time.Second; ctx.Err() == nil; {
		err := s.listenOnce(ctx, connURL, wake)
		if ctx.Err() != nil {
			return
		}
		slog.Warn("listening for due deliveries failed; polling until it reconnects", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, connURL string, wake func()) error {
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+dueChannel); err != nil {
		return err
	}
	// Work may have been committed while we were not listening.
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
