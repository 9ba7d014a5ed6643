package sqlstore

import (
	"context"
	"database/sql"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Batcher runs the hot path's statements, which each database shapes its
// own way (postgres/batch.go, sqlite/batch.go). PostgreSQL passes a batch
// as one array per column to one statement of fixed text, since every
// statement is a round trip, and pgx prepares and caches each text per
// connection. SQLite, embedded, has no round trips to save: it runs
// multi-row statements of a few fixed sizes and one statement per row where
// that is cheaper, each text prepared once for the store on its one writer.
//
// sqlstore decides what goes in each column (the rows below); a Batcher
// decides only how the rows are bound. Every method runs in the write
// transaction tx, and none is called with an empty batch.
type Batcher interface {
	// Query runs the write path's fixed SQL, with "?" placeholders
	// already rewritten for the database.
	Query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error)
	// Exec is Query for SQL that returns no rows.
	Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error)
	// QueryRow is Query for SQL that returns one row: it scans the row
	// into dest (sql.ErrNoRows when there is none).
	QueryRow(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error

	// UpsertJobs creates or updates the jobs of a publish, distinct ids
	// in ascending order, as events (UpsertJobsSQL, JobConflictSQL(true)),
	// and returns what each job holds now, in any order.
	UpsertJobs(ctx context.Context, tx *sql.Tx, s domain.Scope, jobs []JobRow) ([]JobRow, error)
	// UsedKeys returns the stored idempotency keys of s among keys
	// (sorted, distinct), read with KeyLookupSQL and ScanKeys.
	UsedKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []string) ([]KeyRow, error)
	// InsertKeys, InsertEvents and InsertDeliveries insert a publish's
	// rows with the statements InsertKeysSQL, InsertEventsSQL and
	// InsertDeliveriesSQL begin.
	InsertKeys(ctx context.Context, tx *sql.Tx, s domain.Scope, keys []KeyRow) error
	InsertEvents(ctx context.Context, tx *sql.Tx, s domain.Scope, events []EventRow) error
	InsertDeliveries(ctx context.Context, tx *sql.Tx, s domain.Scope, deliveries []DeliveryRow) error

	// RecordOutcomes inserts the attempts (InsertAttemptsSQL, ON CONFLICT
	// (id) DO NOTHING: a repeated Record changes nothing) and applies the
	// outcomes to their deliveries, each one's attempts counted once. Only
	// a delivery still pending and leased changes: one cancelled while its
	// attempt was in flight stays cancelled, and one whose outcome was
	// recorded already (its lease cleared) is not counted twice. applied
	// is how many deliveries changed.
	RecordOutcomes(ctx context.Context, tx *sql.Tx, attempts []AttemptRow, outcomes []OutcomeRow) (applied int64, err error)

	// ClaimDue leases due deliveries of the candidates, in their order:
	// at most each one's Cap, at most c.Limit in all, the earliest due of
	// each endpoint first (ClaimSQL, ScanClaimed).
	ClaimDue(ctx context.Context, tx *sql.Tx, c DueClaim) ([]store.Claimed, error)
}

// The batch inserts up to their rows: the columns, the scope's first, then
// those of the row's fields in the order of the fields. Each database adds
// how the rows are bound.
const (
	InsertKeysSQL   = `INSERT INTO idempotency_keys (tenant_id, environment, key, request_hash, event_id, deliveries, created_at)`
	InsertEventsSQL = `INSERT INTO events (tenant_id, environment, id, type, job_id, job, final, test, sensitive, expires_at, data,
		created_at, traceparent)`
	// status is 'pending' and updated_at is created_at: the statement
	// writes them, not the row.
	InsertDeliveriesSQL = `INSERT INTO deliveries (tenant_id, environment, id, event_id, event_type, endpoint_id, target_url, test,
		next_attempt_at, created_at, ordered_job, lease_owner, status, updated_at)`
	// Attempts of one Record may belong to several scopes: the scope is
	// the row's.
	InsertAttemptsSQL = `INSERT INTO attempts (id, delivery_id, tenant_id, environment, number, at, duration_ms, request_headers,
		response_status, response_headers, response_body, error_class, error, trace_id)`
)

// UpsertJobsSQL begins a job's upsert, to which JobConflictSQL adds what
// a job that exists keeps.
const UpsertJobsSQL = `INSERT INTO jobs (tenant_id, environment, id, kind, partner_params, callback_url, last_event_type, final,
	created_at, updated_at)`

// JobConflictSQL is the end of a job's upsert: the job keeps its kind,
// partner params and callback URL where the new values are empty, and the
// upsert returns what the job then holds (JobRow's ID, Kind,
// PartnerParams, CallbackURL). fromEvent says whether the job's status
// moves on (an event) or not (a job registered ahead of its events).
func JobConflictSQL(fromEvent bool) string {
	status, final := `jobs.last_event_type`, `jobs.final`
	if fromEvent {
		// A job that has ended stays ended: a later correction
		// (decision_updated, say) does not reopen it.
		status, final = `excluded.last_event_type`, `(jobs.final OR excluded.final)`
	}
	return ` ON CONFLICT (tenant_id, environment, id) DO UPDATE SET
		kind = CASE WHEN excluded.kind <> '' THEN excluded.kind ELSE jobs.kind END,
		partner_params = COALESCE(excluded.partner_params, jobs.partner_params),
		callback_url = CASE WHEN excluded.callback_url <> '' THEN excluded.callback_url ELSE jobs.callback_url END,
		last_event_type = ` + status + `,
		final = ` + final + `,
		updated_at = excluded.updated_at
	RETURNING id, kind, partner_params, callback_url`
}

// JobRow is a job as a publish upserts it, its columns in the order of
// UpsertJobsSQL; nil PartnerParams is a NULL (keep the stored ones). Now
// is both its created_at and updated_at.
type JobRow struct {
	ID, Kind      string
	PartnerParams []byte
	CallbackURL   string
	EventType     string
	Final         bool
	Now           int64
}

// KeyRow is an idempotency key and the result it remembers.
type KeyRow struct {
	Key         string
	RequestHash []byte
	EventID     string
	Deliveries  int
	CreatedAt   int64
}

// EventRow is an event as the events table holds it. A nil JobID, Job or
// ExpiresAt is a NULL.
type EventRow struct {
	ID, Type               string
	JobID                  *string
	Job                    []byte
	Final, Test, Sensitive bool
	ExpiresAt              *int64
	Data                   []byte
	CreatedAt              int64
	TraceParent            string
}

// DeliveryRow is a new delivery, due at its creation unless Held (a test
// send's, which waits with no due time for the request that sends it) or
// handed over (leased to LeaseOwner until LeaseUntil, as a claim leases
// it). An event's deliveries are next to each other.
type DeliveryRow struct {
	ID, EventID, EventType, EndpointID, TargetURL string
	Test                                          bool
	Held                                          bool
	CreatedAt                                     int64
	// OrderedJob is the job whose order the delivery keeps; "" is NULL.
	OrderedJob string
	// LeaseOwner, when not "", is the dispatcher the delivery is handed
	// to at publish.
	LeaseOwner string
	LeaseUntil int64
}

// Due is the row's next_attempt_at: nil for a held delivery.
func (d *DeliveryRow) Due() *int64 {
	switch {
	case d.Held:
		return nil
	case d.LeaseOwner != "":
		return &d.LeaseUntil
	}
	return &d.CreatedAt
}

// AttemptRow is an attempt as the attempts table holds it. Nil headers are
// a NULL: never sent or received.
type AttemptRow struct {
	ID, DeliveryID, TenantID, Environment string
	Number                                int
	At, DurationMS                        int64
	RequestHeaders                        []byte
	ResponseStatus                        int
	ResponseHeaders, ResponseBody         []byte
	ErrorClass, Error, TraceID            string
}

// OutcomeRow is what an outcome changes in its delivery. A nil
// NextAttemptAt is a NULL: a finished delivery is due never.
type OutcomeRow struct {
	DeliveryID, Status string
	NextAttemptAt      *int64
	LastStatus         int
	LastError          string
	UpdatedAt          int64
	// SignedAt is the attempt's signing instant, 0 when it was never
	// signed: the delivery keeps the first it gets (identical retries
	// sign again with it).
	SignedAt int64
}

// ClaimCandidate is an endpoint whose due deliveries a claim may take, and
// how many at most: store.ClaimRounds rounds of its lane.
type ClaimCandidate struct {
	EndpointID string
	Cap        int
	// Concurrency is the endpoint's max_concurrency; 0 for an endpoint
	// that is gone.
	Concurrency int
	// Probe marks the one delivery a half-open circuit lets go: it is
	// claimed before the other endpoints' rounds, so a claim's limit
	// cannot leave the probe taken and unsent.
	Probe bool
	// UpdatedAt is the endpoint's updated_at (Unix microseconds) as the
	// claim read it; 0 for an endpoint that is gone.
	UpdatedAt int64
}

// DueClaim is a claim of due deliveries: the lease it writes (the due time
// pushed forward to LeaseUntil: a lease that runs out makes the delivery
// due again without any sweeper), the time deliveries are due by, and the
// endpoints to take them from.
type DueClaim struct {
	Owner           string
	LeaseUntil, Now int64
	Limit           int
	Candidates      []ClaimCandidate
}

// ClaimSQL leases the deliveries that selection (a subquery in
// parentheses) picks and returns what ScanClaimed reads. Its first two
// parameters are the lease's end and owner.
//
// A delivery that still has a lease owner had its lease run out without an
// outcome (its process crashed or stalled): the claim takes it over, and
// writes the new lease's end one microsecond later, so that RETURNING
// tells a takeover (neither SQLite nor PostgreSQL before 18 returns a
// row's old values). Claim compares it with the lease it asked for.
func ClaimSQL(selection string) string {
	return `UPDATE deliveries SET next_attempt_at = CAST(? AS BIGINT) + (CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END),
		lease_owner = ? WHERE id IN ` + selection +
		` RETURNING id, endpoint_id, target_url, attempts, signed_at, event_id, next_attempt_at, ordered_job`
}

// ScanClaimed appends the rows of a ClaimSQL statement to out and closes
// rows.
func ScanClaimed(rows *sql.Rows, out []store.Claimed) ([]store.Claimed, error) {
	defer rows.Close()
	for rows.Next() {
		var c store.Claimed
		var signed sql.NullInt64
		var until int64
		var job sql.NullString
		if err := rows.Scan(&c.DeliveryID, &c.EndpointID, &c.TargetURL, &c.Attempts, &signed, &c.Event.ID, &until, &job); err != nil {
			return nil, err
		}
		c.OrderedJob = job.String
		c.LeaseUntil = fromMicros(until)
		if signed.Valid {
			c.SignedAt = fromMicros(signed.Int64)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// KeyLookupSQL reads a scope's stored idempotency keys that match (for
// example "IN (?, ?)"); its first two parameters are the scope's.
func KeyLookupSQL(match string) string {
	return `SELECT key, request_hash, event_id, deliveries FROM idempotency_keys
		WHERE tenant_id = ? AND environment = ? AND key ` + match
}

// ScanKeys appends the rows of a KeyLookupSQL statement to out and closes
// rows.
func ScanKeys(rows *sql.Rows, out []KeyRow) ([]KeyRow, error) {
	defer rows.Close()
	for rows.Next() {
		var k KeyRow
		if err := rows.Scan(&k.Key, &k.RequestHash, &k.EventID, &k.Deliveries); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
