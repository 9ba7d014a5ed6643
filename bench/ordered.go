package main

import (
	"context"
	"fmt"
	"slices"
)

// ordered measures per-job order (an endpoint's ordering job) against the
// same run unordered: jobs of orderedSteps events each, published job
// after job, to one endpoint whose receiver fails orderedFailPercent of
// requests at random, with retries 50 ms apart. Each run is a fresh
// Herald; the unordered one is the baseline. The receiver counts the
// deliveries that arrive before an earlier one of their job: none may in
// the ordered run. Ratio is the ordered run's throughput over the
// baseline's.
func (r *runner) ordered(ctx context.Context) *Result {
	events := r.cfg.count(r.cfg.orderedJobs, 20) * r.cfg.orderedSteps
	base := r.orderedRun(ctx, "ordered-baseline", events, failing)
	res := r.orderedRun(ctx, "ordered", events, failingOrdered)
	res.Baseline = base
	res.Jobs, base.Jobs = events/r.cfg.orderedSteps, events/r.cfg.orderedSteps
	if !base.OK {
		res.fail("baseline: " + base.Error)
	}
	if base.Throughput > 0 {
		res.Ratio = res.Throughput / base.Throughput
	}
	for _, run := range []*Result{res, base} {
		if run.Received != nil && run.Received.Refused == 0 && r.cfg.orderedFailPercent > 0 {
			run.fail("the receiver failed no request")
		}
	}
	if rc := res.Received; rc != nil {
		if rc.OutOfOrder > 0 {
			res.fail(fmt.Sprintf("%d deliveries arrived before an earlier one of their job", rc.OutOfOrder))
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%d requests failed on purpose; every job's events arrived in publish order", rc.Refused))
	}
	if rc := base.Received; rc != nil {
		base.Notes = append(base.Notes, fmt.Sprintf("%d requests failed on purpose; %d deliveries arrived before an earlier one of their job (no order asked)",
			rc.Refused, rc.OutOfOrder))
	}
	return res
}

// orderedRun publishes events, orderedSteps to a job in sequence, to one
// endpoint of the kind, and waits until each arrived.
func (r *runner) orderedRun(ctx context.Context, name string, events int, kind endpointKind) *Result {
	shape := r.cfg.shape
	shape.Jobs, shape.PerJob = false, r.cfg.orderedSteps
	// A job's events in one batch, in order: batches run concurrently.
	batch := r.cfg.batch / r.cfg.orderedSteps * r.cfg.orderedSteps
	return r.deliver(ctx, name, events, 1, func(int) endpointKind { return kind }, r.cfg.profiles[name], func(st *stage) (publishStats, error) {
		return publishBatches(ctx, st.h, shape, events, batch, r.cfg.publishers, 1)
	})
}

// orderedRetries is the failing endpoints' schedule: soon, and enough
// retries that no delivery runs out (0.3^30).
var orderedRetries = slices.Repeat([]string{"50ms"}, 30)

// failing makes endpoint i of a stage one whose receiver fails some
// requests at random, retried soon, ordered by job or not.
func (st *stage) failing(spec *endpointSpec, req *resetRequest, i int, ordered bool) {
	spec.RetryPolicy = &retrySpec{Delays: orderedRetries}
	if ordered {
		spec.Ordering = "job"
	}
	if req.FailPercent == nil {
		req.FailPercent = make([]int, len(req.Secrets))
	}
	req.FailPercent[i], req.PerJob = st.r.cfg.orderedFailPercent, st.r.cfg.orderedSteps
}
