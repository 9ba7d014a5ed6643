package sqlstore

// QueueTable is where a pending delivery's place in the queue (its due
// time in next_attempt_at, its lease in lease_owner) lives, which each
// database chooses for its own write costs.
//
// On SQLite it is the delivery's own row in deliveries: SQLite rewrites a
// row in place and touches only the indexes whose columns change, so a
// claim and a record cost no more there than in a table of their own, and
// a second table would be one more insert and delete a delivery
// (bench/experiments/narrow-queue: +5 to +7 %).
//
// On PostgreSQL an update writes a new version of the row, and a new entry
// in every index of the table unless no indexed column changes (a HOT
// update). The queue's columns are indexed, so every claim and record of a
// delivery in deliveries wrote all seven of its index entries again. In
// delivery_queue, a narrow table holding a row per pending delivery, the
// claim touches only that row; the record deletes it (or moves its due
// time, for a retry) and updates deliveries without changing any of its
// indexed columns, which PostgreSQL does in place when the page has room
// (deliveries keeps half of each page free for it): 39 % less server CPU
// for a delivery's writes in the experiment.
//
// A statement that reads or moves queue state only names Name and asks
// Pending of its rows; one that makes a delivery pending or ends it goes
// through requeue and cancelPending, and the hot path's statements are
// each database's own (Batcher).
type QueueTable struct {
	// Name is the table that holds, for each pending delivery, its id,
	// tenant_id, environment, endpoint_id, ordered_job and created_at
	// beside next_attempt_at and lease_owner.
	Name string
	// Separate says that Name holds only pending deliveries: a row enters
	// when its delivery becomes pending and leaves when it ends, and
	// deliveries has no queue columns of its own.
	Separate bool
}

// The two places the queue's state can be.
var (
	// QueueInDeliveries keeps it in the delivery's row (SQLite's).
	QueueInDeliveries = QueueTable{Name: "deliveries"}
	// QueueOfItsOwn keeps it in delivery_queue (PostgreSQL's).
	QueueOfItsOwn = QueueTable{Name: "delivery_queue", Separate: true}
)

// Pending is the condition that the queue's row the prefix names ("d." or
// "") is a pending delivery's: every row of a separate table is.
func (t QueueTable) Pending(prefix string) string {
	if t.Separate {
		return "TRUE"
	}
	return prefix + "status = 'pending'"
}

// ClaimSQL leases the deliveries that selection (a subquery of the
// queue's ids in parentheses) picks and returns what ScanClaimed reads. Its
// first two parameters are the lease's end and owner.
//
// A delivery that still has a lease owner had its lease run out without an
// outcome (its process crashed or stalled): the claim takes it over, and
// writes the new lease's end one microsecond later, so that RETURNING
// tells a takeover (neither SQLite nor PostgreSQL before 18 returns a
// row's old values). Claim compares it with the lease it asked for.
func (t QueueTable) ClaimSQL(selection string) string {
	const lease = ` SET next_attempt_at = CAST(? AS BIGINT) + (CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END), lease_owner = ?`
	if t.Separate {
		// The delivery's own columns come from its row, read, not written.
		return `UPDATE ` + t.Name + ` q` + lease + ` FROM deliveries d WHERE d.id = q.id AND q.id IN ` + selection +
			` RETURNING q.id, q.endpoint_id, d.target_url, d.attempts, d.signed_at, d.event_id, q.next_attempt_at, q.ordered_job`
	}
	return `UPDATE deliveries` + lease + ` WHERE id IN ` + selection +
		` RETURNING id, endpoint_id, target_url, attempts, signed_at, event_id, next_attempt_at, ordered_job`
}

// HeadOfJob is the claim's condition on the queue's row aliased x: it keeps
// no job's order, or it is the first pending one of its job at its
// endpoint. The subquery is one step in the job order index.
func (t QueueTable) HeadOfJob() string {
	return `(x.ordered_job IS NULL OR NOT EXISTS (SELECT 1 FROM ` + t.Name + ` p WHERE ` + t.earlierOfJob("p", "x") + `))`
}

// earlierOfJob is the condition that the queue's row aliased p is a
// pending delivery of the same job to the same endpoint as d, made before
// it.
func (t QueueTable) earlierOfJob(p, d string) string {
	return jobKey(p+".") + ` = ` + jobKey(d+".") + ` AND ` + p + `.ordered_job IS NOT NULL AND ` + t.Pending(p+".") + ` AND ` +
		p + `.id < ` + d + `.id`
}

// ofJob is the condition that a row of the queue is a pending delivery of
// the job to the endpoint whose jobKeyOf is its argument.
func (t QueueTable) ofJob() string {
	return jobKey("") + ` = ? AND ordered_job IS NOT NULL AND ` + t.Pending("")
}

// notInFlight is the condition that the row of deliveries (unaliased) is
// not pending with a lease: a retry by hand leaves one in flight alone.
func (t QueueTable) notInFlight() string {
	if t.Separate {
		return `NOT EXISTS (SELECT 1 FROM ` + t.Name + ` q WHERE q.id = deliveries.id AND q.lease_owner IS NOT NULL)`
	}
	return `(status <> 'pending' OR lease_owner IS NULL)`
}

// dueColumn is the due time of a row of deliveries (unaliased) as a
// column of a read: NULL when it is not pending.
func (t QueueTable) dueColumn() string {
	if t.Separate {
		return `(SELECT q.next_attempt_at FROM ` + t.Name + ` q WHERE q.id = deliveries.id)`
	}
	return `next_attempt_at`
}
