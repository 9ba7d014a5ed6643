package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// health is an endpoint's row of endpoint_health as a record changes it.
// Times are Unix microseconds, 0 for none.
type health struct {
	circuit                         string
	failures, streak                int
	streakAt, failingSince, probeAt int64
	lastError                       string
	recovering                      bool
	changed                         bool
	// disabled: the endpoint is disabled (its circuit no longer matters).
	disabled bool
}

const healthColumns = `endpoint_id, circuit, failures, streak, streak_at, failing_since, probe_at, last_error, recovering,
	(SELECT e.status FROM endpoints e WHERE e.id = endpoint_health.endpoint_id)`

// counts reports whether an outcome says anything of its endpoint's health,
// and whether that is a failure. A cancellation that sent nothing (expired
// event, deleted endpoint) or a failure before anything was sent (a body
// that cannot be built) says nothing of the receiver.
func counts(o *store.Outcome) (counted, failed bool) {
	switch {
	case o.DisableEndpoint != "":
		return true, true
	case o.Breaker == nil:
		return false, false
	case o.Status == domain.DeliverySucceeded:
		return true, false
	case o.Status == domain.DeliveryPending || o.Status == domain.DeliveryFailed,
		// A failed attempt whose retry would have come after the event's
		// TTL ends cancelled; the request went out and failed all the same.
		o.Status == domain.DeliveryCancelled && o.Attempt.ErrorClass != "":
		return o.Attempt.ErrorClass != "", o.Attempt.ErrorClass != ""
	}
	return false, false
}

// trackHealth applies the outcomes to their endpoints' breakers, in the
// record's transaction: on PostgreSQL the rows are locked, so that the
// processes of a cluster count one run of failures, not one each. An
// endpoint that only succeeds and has no failures on record costs one
// indexed read.
func (db *DB) trackHealth(ctx context.Context, tx *sql.Tx, outcomes []store.Outcome) error {
	byEndpoint := map[string][]int{}
	failed := map[string]bool{}
	var ids, failing []string
	for i := range outcomes {
		o := &outcomes[i]
		o.Changes = nil // Record may run again after a rollback
		counted, fail := counts(o)
		if !counted {
			continue
		}
		if _, seen := byEndpoint[o.EndpointID]; !seen {
			ids = append(ids, o.EndpointID)
		}
		if fail && !failed[o.EndpointID] {
			failed[o.EndpointID] = true
			failing = append(failing, o.EndpointID)
		}
		byEndpoint[o.EndpointID] = append(byEndpoint[o.EndpointID], i)
	}
	if len(ids) == 0 {
		return nil
	}
	// Rows are taken in id order, so two records never wait on each other.
	slices.Sort(ids)
	slices.Sort(failing)
	unhealthy := ` AND (failures > 0 OR circuit <> 'closed' OR recovering)`
	if len(failing) > 0 {
		unhealthy = ""
		err := db.inChunks("id", failing, func(in string, args []any) error {
			_, err := db.execStmt(ctx, tx, `INSERT INTO endpoint_health (endpoint_id, updated_at)
				SELECT id, CAST(? AS BIGINT) FROM endpoints WHERE `+in+` ORDER BY id
				ON CONFLICT (endpoint_id) DO NOTHING`, db.listArgs(append([]any{micros(outcomes[0].Attempt.At)}, args...)...)...)
			return err
		})
		if err != nil {
			return fmt.Errorf("endpoint health: %w", err)
		}
	}
	states := map[string]*health{}
	err := db.inChunks("endpoint_id", ids, func(in string, args []any) error {
		return db.readHealth(ctx, tx, states, `SELECT `+healthColumns+` FROM endpoint_health
			WHERE `+in+unhealthy+` ORDER BY endpoint_id`+db.dialect.RowLock, db.listArgs(args...))
	})
	if err != nil {
		return fmt.Errorf("endpoint health: %w", err)
	}
	for _, id := range ids {
		h := states[id]
		if h == nil {
			continue // healthy and succeeding; or deleted meanwhile
		}
		for _, i := range byEndpoint[id] {
			if err := db.applyOutcome(ctx, tx, h, &outcomes[i]); err != nil {
				return fmt.Errorf("endpoint health of %s: %w", id, err)
			}
		}
		if !h.changed {
			continue
		}
		if _, err := db.execStmt(ctx, tx, `UPDATE endpoint_health SET circuit = ?, failures = ?, streak = ?, streak_at = ?,
			failing_since = ?, probe_at = ?, last_error = ?, recovering = ?, updated_at = ? WHERE endpoint_id = ?`,
			h.circuit, h.failures, h.streak, nullable(h.streakAt), nullable(h.failingSince), nullable(h.probeAt),
			h.lastError, h.recovering, micros(outcomes[byEndpoint[id][0]].Attempt.At), id); err != nil {
			return fmt.Errorf("endpoint health of %s: %w", id, err)
		}
	}
	return nil
}

// readHealth reads the breaker states of a query's rows into states, by
// endpoint id.
func (db *DB) readHealth(ctx context.Context, tx *sql.Tx, states map[string]*health, query string, args []any) error {
	rows, err := db.queryStmt(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var h health
		var streakAt, since, probe sql.NullInt64
		var status sql.NullString
		if err := rows.Scan(&id, &h.circuit, &h.failures, &h.streak, &streakAt, &since, &probe, &h.lastError, &h.recovering, &status); err != nil {
			return err
		}
		h.streakAt, h.failingSince, h.probeAt = streakAt.Int64, since.Int64, probe.Int64
		h.disabled = status.String == domain.EndpointDisabled
		states[id] = &h
	}
	return rows.Err()
}

// applyOutcome moves an endpoint's breaker by one attempt: a success
// closes it and forgets the failures; a failure counts toward opening it
// (Threshold in a row within Window), opens it again when it was the
// half-open probe, and disables the endpoint after DisableAfter with no
// success, or at once on DisableEndpoint (410 Gone).
func (db *DB) applyOutcome(ctx context.Context, tx *sql.Tx, h *health, o *store.Outcome) error {
	_, failed := counts(o)
	at := micros(o.Attempt.At)
	if !failed && h.failures == 0 && h.circuit == domain.CircuitClosed && !h.recovering {
		return nil // healthy, and staying so
	}
	h.changed = true
	if !failed {
		if h.circuit != domain.CircuitClosed {
			if err := db.healthChanged(ctx, tx, o, domain.HealthClosed, "a delivery succeeded"); err != nil {
				return err
			}
		}
		if h.recovering {
			if err := db.healthChanged(ctx, tx, o, domain.HealthRecovered, "the first delivery since it was enabled succeeded"); err != nil {
				return err
			}
		}
		*h = health{circuit: domain.CircuitClosed, changed: true, disabled: h.disabled}
		return nil
	}
	// Without the URLs Go puts in its errors: a job's callback URL may be a
	// session link, and the health history outlives an erasure.
	h.lastError = domain.WithoutURL(lastError(&o.Attempt))
	h.failures++
	if h.failingSince == 0 {
		h.failingSince = at
	}
	if h.disabled {
		return nil // an attempt that was in flight when it was disabled
	}
	// Disabling comes first: a disabled endpoint's circuit does not matter.
	p := o.Breaker
	reason := o.DisableEndpoint
	if reason == "" && p != nil && at-h.failingSince >= p.DisableAfter.Microseconds() {
		reason = "failing with no success since " + fromMicros(h.failingSince).Format(time.RFC3339)
	}
	if reason != "" || p == nil {
		return db.disable(ctx, tx, h, o, reason)
	}
	if h.streak == 0 || at-h.streakAt > p.Window.Microseconds() {
		h.streak, h.streakAt = 0, at
	}
	h.streak++
	var why string
	switch {
	case h.circuit == domain.CircuitHalfOpen:
		why = "the probe failed: " + h.lastError
	case h.circuit == domain.CircuitClosed && h.streak >= p.Threshold:
		why = fmt.Sprintf("%d failed attempts in a row within %s; the last: %s", h.streak, p.Window, h.lastError)
	}
	if why == "" {
		return nil
	}
	h.circuit, h.probeAt = domain.CircuitOpen, at+p.Cooldown.Microseconds()
	return db.healthChanged(ctx, tx, o, domain.HealthOpened, why)
}

// disable disables the outcome's endpoint for reason (nothing when reason
// is empty or the endpoint is disabled already).
func (db *DB) disable(ctx context.Context, tx *sql.Tx, h *health, o *store.Outcome, reason string) error {
	if reason == "" {
		return nil
	}
	h.disabled = true
	res, err := tx.ExecContext(ctx, db.q(`UPDATE endpoints SET status = 'disabled', disabled_reason = ?, updated_at = ?
		WHERE id = ? AND status <> 'disabled'`), reason, micros(o.Attempt.At), o.EndpointID)
	if err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return db.healthChanged(ctx, tx, o, domain.HealthDisabled, reason)
}

// healthChanged writes a history entry and tells the outcome of it.
func (db *DB) healthChanged(ctx context.Context, tx *sql.Tx, o *store.Outcome, kind, reason string) error {
	c := domain.HealthChange{ID: domain.NewIDAt(domain.PrefixHealthChange, o.Attempt.At), Kind: kind, Reason: reason, At: o.Attempt.At}
	o.Changes = append(o.Changes, c)
	return db.logHealth(ctx, tx, o.EndpointID, c)
}

func (db *DB) logHealth(ctx context.Context, tx *sql.Tx, endpointID string, c domain.HealthChange) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO endpoint_health_log (id, endpoint_id, kind, reason, at) VALUES (?, ?, ?, ?, ?)`),
		c.ID, endpointID, c.Kind, c.Reason, micros(c.At))
	if err != nil {
		return fmt.Errorf("health history: %w", err)
	}
	return nil
}

// takeProbe turns an open circuit whose probe time has come half-open, for
// this claim alone: the update is conditional, so of the processes that
// claim at once only one gets the probe, and only while the endpoint has a
// due delivery to probe with. The probe's slot lasts until leaseUntil: if
// it is never recorded, another probe may go then.
func (db *DB) takeProbe(ctx context.Context, tx *sql.Tx, endpointID, circuit string, now, leaseUntil int64) (bool, error) {
	res, err := tx.ExecContext(ctx, db.q(`UPDATE endpoint_health SET circuit = 'half_open', probe_at = ?, updated_at = ?
		WHERE endpoint_id = ? AND circuit <> 'closed' AND probe_at <= ?
		AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = ? AND d.status = 'pending' AND d.next_attempt_at <= ?)`),
		leaseUntil, now, endpointID, now, endpointID, now)
	if err != nil {
		return false, fmt.Errorf("probe %s: %w", endpointID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if circuit == domain.CircuitOpen {
		at := fromMicros(now)
		c := domain.HealthChange{ID: domain.NewIDAt(domain.PrefixHealthChange, at), Kind: domain.HealthHalfOpen,
			Reason: "one probe delivery goes", At: at}
		if err := db.logHealth(ctx, tx, endpointID, c); err != nil {
			return false, err
		}
	}
	return true, nil
}

// statusChanged follows an update of an endpoint's status into its health:
// disabling is written in its history; enabling a disabled endpoint is
// too, closes its circuit, forgets its failures, and makes its pending
// deliveries due now, so that they go at once.
func (db *DB) statusChanged(ctx context.Context, tx *sql.Tx, e *domain.Endpoint, was string) error {
	at := e.UpdatedAt
	switch {
	case was == e.Status:
		return nil
	case e.Status == domain.EndpointDisabled:
		return db.logHealth(ctx, tx, e.ID, domain.HealthChange{ID: domain.NewIDAt(domain.PrefixHealthChange, at),
			Kind: domain.HealthDisabled, Reason: e.DisabledReason, At: at})
	case was != domain.EndpointDisabled:
		return nil
	}
	if err := db.logHealth(ctx, tx, e.ID, domain.HealthChange{ID: domain.NewIDAt(domain.PrefixHealthChange, at),
		Kind: domain.HealthEnabled, Reason: "enabled by its tenant", At: at}); err != nil {
		return err
	}
	// Deliveries before the breaker, as a record takes them.
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE deliveries SET next_attempt_at = ?
		WHERE endpoint_id = ? AND status = 'pending' AND lease_owner IS NULL AND next_attempt_at > ?`),
		micros(at), e.ID, micros(at)); err != nil {
		return fmt.Errorf("make pending deliveries due: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO endpoint_health (endpoint_id, recovering, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (endpoint_id) DO UPDATE SET circuit = 'closed', failures = 0, streak = 0, streak_at = NULL,
		failing_since = NULL, probe_at = NULL, last_error = '', recovering = excluded.recovering, updated_at = excluded.updated_at`),
		e.ID, true, micros(at)); err != nil {
		return fmt.Errorf("reset endpoint health: %w", err)
	}
	return db.notifyDue(ctx, tx)
}

// endpointStatus reads an endpoint's status in tx, "" when it is gone.
func (db *DB) endpointStatus(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var status string
	err := tx.QueryRowContext(ctx, db.q(`SELECT status FROM endpoints WHERE id = ?`), id).Scan(&status)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return status, err
}

func (db *DB) EndpointHealth(ctx context.Context, s domain.Scope, id string, history int) (*domain.EndpointHealth, error) {
	h := &domain.EndpointHealth{EndpointID: id, History: []domain.HealthChange{}}
	var circuit, lastError sql.NullString
	var failures sql.NullInt64
	var since, probe sql.NullInt64
	err := db.read.QueryRowContext(ctx, db.q(`SELECT e.status, e.disabled_reason, h.circuit, h.failures, h.failing_since,
		h.probe_at, h.last_error FROM endpoints e LEFT JOIN endpoint_health h ON h.endpoint_id = e.id
		WHERE e.tenant_id = ? AND e.environment = ? AND e.id = ?`), s.TenantID, s.Environment, id).
		Scan(&h.Status, &h.DisabledReason, &circuit, &failures, &since, &probe, &lastError)
	if err == sql.ErrNoRows {
		return nil, notFound("endpoint", id)
	}
	if err != nil {
		return nil, db.wrap("endpoint health", err)
	}
	h.Circuit, h.ConsecutiveFailures, h.LastError = domain.CircuitClosed, int(failures.Int64), lastError.String
	if circuit.Valid {
		h.Circuit = circuit.String
	}
	h.FailingSince = nullMicros(since)
	if h.Circuit == domain.CircuitOpen {
		h.NextProbeAt = nullMicros(probe)
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT id, kind, reason, at FROM endpoint_health_log
		WHERE endpoint_id = ? ORDER BY at DESC, id DESC LIMIT ?`), id, history)
	if err != nil {
		return nil, db.wrap("endpoint health history", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c domain.HealthChange
		var at int64
		if err := rows.Scan(&c.ID, &c.Kind, &c.Reason, &at); err != nil {
			return nil, db.wrap("endpoint health history", err)
		}
		c.At = fromMicros(at)
		h.History = append(h.History, c)
	}
	return h, db.wrap("endpoint health history", rows.Err())
}

// Why a delivery was cancelled without an attempt.
const (
	cancelledDeleted = "the endpoint was deleted"
	cancelledPaused  = "expired while its endpoint was paused"
)

func (db *DB) ExpirePaused(ctx context.Context, cutoff, now time.Time, limit int) (int, error) {
	var n int
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = db.cancelPending(ctx, tx, `SELECT d.id FROM endpoints e JOIN deliveries d ON d.endpoint_id = e.id
			WHERE e.status = 'paused' AND d.status = 'pending' AND (d.lease_owner IS NULL OR d.next_attempt_at <= ?)
			AND d.created_at < ? LIMIT ?`,
			cancelledPaused, now, micros(now), micros(cutoff), limit)
		return err
	})
	return n, db.wrap("expire deliveries of paused endpoints", err)
}

// cancelPending cancels the pending deliveries the selection (a query of
// delivery ids, and its arguments) names, and erases the data of the
// sensitive events it leaves with no delivery pending: a one-time code
// that will never be delivered has no business in the database either.
func (db *DB) cancelPending(ctx context.Context, tx *sql.Tx, selection, why string, now time.Time, args ...any) (int, error) {
	rows, err := tx.QueryContext(ctx, db.q(`UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_owner = NULL,
		last_error = ?, updated_at = ? WHERE id IN (`+selection+`) RETURNING event_id, id, endpoint_id, ordered_job`),
		append([]any{why, micros(now)}, args...)...)
	if err != nil {
		return 0, err
	}
	var events []any
	var ordered []store.Outcome
	n := 0
	for rows.Next() {
		var id string
		var job sql.NullString
		o := store.Outcome{Status: domain.DeliveryCancelled}
		if err := rows.Scan(&id, &o.DeliveryID, &o.EndpointID, &job); err != nil {
			rows.Close()
			return 0, err
		}
		n++
		if !slices.Contains(events, any(id)) {
			events = append(events, id)
		}
		if job.Valid {
			o.OrderedJob = job.String
			ordered = append(ordered, o)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	// The rest of an ordered job go on without the cancelled ones, marked.
	if err := db.recordJobOrder(ctx, tx, ordered); err != nil {
		return 0, err
	}
	return n, db.scrubEvents(ctx, tx, events)
}

// nullable is a time in microseconds, NULL for none.
func nullable(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}
