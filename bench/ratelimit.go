package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"
)

// limitRate is the endpoint's rate_limit in ratelimit, requests a second.
const limitRate = 50

// rateLimit measures an endpoint's rate_limit: a backlog of the limit's
// worth of events for the duration is published to the endpoint while it
// is paused, then it is resumed with a rate_limit of 50 a second, and the
// deliveries must arrive at 45 to 55 a second. On PostgreSQL two more
// Herald processes serve the same database, and the limit must hold for
// the three together.
func (r *runner) rateLimit(ctx context.Context) *Result {
	d := max(time.Duration(float64(r.cfg.rateLimitDuration)*r.cfg.scale), 3*time.Second)
	events := int(limitRate * d.Seconds())
	res := &Result{Scenario: "ratelimit", Store: r.store, OK: true, Endpoints: 1, Concurrency: r.cfg.concurrency,
		Events: events, Deliveries: int64(events)}
	st, err := r.startStage(ctx, "ratelimit", false)
	if err != nil {
		res.fail(err.Error())
		return res
	}
	defer st.close()
	// The other processes stop before the first: its end drops the schema.
	var extras []*heraldProc
	stopExtras := func() {
		for _, h := range extras {
			if err := h.stop(); err != nil {
				r.logf("  herald ratelimit (another process): %v (log: %s)", err, h.log)
			}
		}
		extras = nil
	}
	defer stopExtras()
	if st.schemaURL != "" {
		for i := range 2 {
			h, err := startHerald(r.bin, st.schemaURL, filepath.Join(r.tmp, fmt.Sprintf("ratelimit-%d-extra%d.log", r.runs, i)), false)
			if err != nil {
				res.fail(err.Error())
				return res
			}
			extras = append(extras, h)
		}
		res.Notes = append(res.Notes, "three Herald processes on one database")
	}
	eps, ps, err := r.pausedBacklog(ctx, st, plain, events)
	res.Publish = ps
	if err != nil {
		res.fail(err.Error())
		if ps != nil {
			stopExtras()
			st.end(res)
		}
		return res
	}
	resumed := time.Now()
	err = st.h.call(ctx, http.MethodPatch, "/v1/endpoints/"+eps[0].ID,
		[]byte(fmt.Sprintf(`{"status":"active","rate_limit":%d}`, limitRate)), http.StatusOK, nil)
	if err != nil {
		res.fail(err.Error())
		stopExtras()
		st.end(res)
		return res
	}
	werr := r.rc.waitUnique(ctx, res.Deliveries, stall, func(s receiverStats) int64 { return s.Unique })
	stopExtras()
	st.end(res)
	if _, ok := r.arrived(res, werr, resumed); !ok {
		return res
	}
	check(res)
	if res.Throughput < limitRate*0.9 || res.Throughput > limitRate*1.1 {
		res.fail(fmt.Sprintf("%.1f deliveries a second over %.1f s to an endpoint limited to %d", res.Throughput, res.WindowSeconds, limitRate))
	}
	return res
}
