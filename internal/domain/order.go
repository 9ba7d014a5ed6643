package domain

// Endpoint orderings.
const (
	// OrderingNone delivers in any order, as many at once as the
	// endpoint's concurrency allows.
	OrderingNone = "none"
	// OrderingJob delivers the events of one job one at a time, in publish
	// order; deliveries of events without a job are not held back.
	OrderingJob = "job"
)

// OrderedJob is the job whose order a new delivery of ev to an endpoint
// with the given ordering keeps, or "" when it keeps none: the endpoint
// does not order, or the event has no job (a test send's event has one
// only for its body).
func OrderedJob(ordering string, ev *Event) string {
	if ordering != OrderingJob || ev.Job == nil || ev.Test {
		return ""
	}
	return ev.Job.ID
}
