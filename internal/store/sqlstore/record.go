package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

func (db *DB) Record(ctx context.Context, outcomes []store.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	err := db.queueWrite(ctx, func(tx *sql.Tx) error {
		applied, err := db.writeOutcomes(ctx, tx, outcomes)
		if err != nil {
			return err
		}
		if err := db.recordJobOrder(ctx, tx, outcomes); err != nil {
			return fmt.Errorf("keep the jobs' order: %w", err)
		}
		if err := db.scrub(ctx, tx, outcomes); err != nil {
			return fmt.Errorf("scrub sensitive events: %w", err)
		}
		// An erasure cancels the deliveries it finds pending, in flight
		// too: when every outcome applied to a pending delivery, none of
		// them was erased (one erased from now on waits for this commit,
		// and then finds the attempt).
		if applied < int64(len(outcomes)) {
			if err := db.eraseLate(ctx, tx, outcomes); err != nil {
				return fmt.Errorf("erase attempts of erased deliveries: %w", err)
			}
		}
		return db.trackHealth(ctx, tx, outcomes)
	})
	return db.wrap("record outcomes", err)
}

// writeOutcomes inserts the attempts and applies the deliveries' new state,
// and says to how many deliveries it applied.
func (db *DB) writeOutcomes(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) (int64, error) {
	n := len(outcomes)
	attempts, updates := make([]AttemptRow, n), make([]OutcomeRow, n)
	// The due times of the deliveries to retry, one allocation for all.
	next := make([]int64, n)
	for i := range outcomes {
		o := &outcomes[i]
		a := &o.Attempt
		r := &attempts[i]
		*r = AttemptRow{
			ID: a.ID, DeliveryID: o.DeliveryID, TenantID: o.Scope.TenantID, Environment: string(o.Scope.Environment),
			Number: a.Number, At: micros(a.At), DurationMS: a.DurationMS, ResponseStatus: a.ResponseStatus,
			ResponseBody: []byte(a.ResponseBody), ErrorClass: a.ErrorClass, Error: a.Error, TraceID: a.TraceID,
		}
		if a.RequestHeaders != nil {
			r.RequestHeaders = marshal(a.RequestHeaders)
		}
		if a.ResponseHeaders != nil {
			r.ResponseHeaders = marshal(a.ResponseHeaders)
		}
		u := &updates[i]
		*u = OutcomeRow{DeliveryID: o.DeliveryID, Status: o.Status, LastStatus: a.ResponseStatus, LastError: lastError(a), UpdatedAt: r.At}
		if !o.SignedAt.IsZero() {
			u.SignedAt = micros(o.SignedAt)
		}
		if o.Status == domain.DeliveryPending {
			next[i] = micros(o.NextAttemptAt)
			u.NextAttemptAt = &next[i]
		}
	}
	return db.dialect.Batcher.RecordOutcomes(ctx, tx, attempts, updates)
}

// lastError is what the delivery shows of its latest attempt's failure.
func lastError(a *domain.Attempt) string {
	if a.Error == "" {
		return a.ErrorClass
	}
	return a.Error
}
