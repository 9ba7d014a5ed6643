package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// saturationSeqs bounds the sequence numbers of one saturation run (the
// receiver keeps a counter for each, per endpoint): far more than Herald
// accepts in a minute on this machine.
const saturationSeqs = 4_000_000

// Saturation is what the saturation scenario measures besides the usual
// figures: the API kept busy by many clients, and whether delivery keeps
// pace meanwhile.
type Saturation struct {
	Clients int `json:"clients"`
	// Batch is events per request (1: POST /v1/events).
	Batch int `json:"batch"`
	// LoadSeconds runs from the first request to the last answer.
	LoadSeconds float64 `json:"load_s"`
	Requests    int     `json:"requests"`
	// Accepted events were answered 202; Refused ones 503 or 429 (Herald
	// shedding load), which the clients then waited out.
	Accepted        int64   `json:"accepted"`
	Refused         int64   `json:"refused"`
	RefusedRequests int64   `json:"refused_requests"`
	AcceptedRate    float64 `json:"accepted_per_s"`
	// RequestLatency is every answered request's, accepted or refused.
	RequestLatency Percentiles `json:"request_latency_ms"`
	// AcceptedTimeline counts events accepted in each second of the load.
	AcceptedTimeline []int64 `json:"accepted_timeline"`
	// DeliveredDuringLoad arrived before the last answer; DeliveredShare is
	// their share of what had to arrive.
	DeliveredDuringLoad int64   `json:"delivered_during_load"`
	DeliveredShare      float64 `json:"delivered_share_during_load"`
	// LagDuring is publish-to-arrival of the deliveries that arrived while
	// the load ran, LagAfter of those that arrived after it.
	LagDuring Percentiles `json:"lag_during_load_ms"`
	LagAfter  Percentiles `json:"lag_after_load_ms"`
	// Lost deliveries of accepted events never arrived.
	Lost int64 `json:"lost"`
	// CPULoad is the CPU over the load alone; HeraldCores and PostgresCores
	// are its seconds per second of the load.
	CPULoad       CPU     `json:"cpu_during_load"`
	HeraldCores   float64 `json:"herald_cores_during_load"`
	PostgresCores float64 `json:"postgres_cores_during_load"`
	// Capped is true when the clients ran out of sequence numbers.
	Capped bool `json:"capped,omitempty"`
}

// saturation keeps the API saturated: many clients each publish as fast as
// Herald answers for a while, closed loop, to endpoints that answer at once.
// It measures how far delivery falls behind meanwhile: the deliveries that
// arrived during the load, and publish-to-arrival lag during and after it.
// Every accepted event must arrive.
func (r *runner) saturation(ctx context.Context) *Result {
	c := r.cfg
	d := max(time.Duration(float64(c.saturationDuration)*c.scale), 2*time.Second)
	n := c.saturationEndpoints
	res := &Result{Scenario: "saturation", Store: r.store, OK: true, Endpoints: n, Concurrency: c.concurrency}
	seqs := saturationSeqs / n
	st, err := r.readyStage(ctx, "saturation", c.profiles["saturation"], n, nil, seqs)
	if err != nil {
		res.fail(err.Error())
		return res
	}
	defer st.close()
	prof := r.startProfile(res, st)
	st.begin()
	sat, ps, err := publishSaturating(ctx, st.h, c.shape, c.saturationClients, c.saturationBatch, d, seqs, n)
	loaded := st.src.snap()
	loadEnd := ps.end
	during, serr := r.rc.stats()
	res.Saturation, res.Publish = sat, &ps
	res.Events, res.Deliveries = int(sat.Accepted), sat.Accepted*int64(n)
	if err != nil {
		res.fail("publish: " + err.Error())
	}
	if serr != nil {
		res.fail(serr.Error())
	}
	sat.DeliveredDuringLoad = during.Unique
	if res.Deliveries > 0 {
		sat.DeliveredShare = float64(during.Unique) / float64(res.Deliveries)
	}
	sat.CPULoad = cpuBetween(st.begun, loaded)
	if w := sat.CPULoad.Wall; w > 0 {
		sat.HeraldCores, sat.PostgresCores = sat.CPULoad.Herald/w, sat.CPULoad.Postgres/w
	}
	werr := r.rc.waitUnique(ctx, res.Deliveries, stall, func(s receiverStats) int64 { return s.Unique })
	st.measure(res)
	r.awaitProfile(res, prof)
	st.close()
	if werr != nil {
		res.fail(werr.Error())
	}
	rep, err := r.rc.reportSplit(loadEnd)
	if err != nil {
		res.fail(err.Error())
		return res
	}
	fill(res, rep, ps.start, ps.end)
	if rep.LatencyBefore != nil {
		sat.LagDuring, sat.LagAfter = *rep.LatencyBefore, *rep.LatencyAfter
	}
	sat.Lost = max(0, res.Deliveries-rep.Unique)
	if sat.Capped {
		res.Notes = append(res.Notes, fmt.Sprintf("the clients used up the %d sequence numbers before the time was up", seqs))
	}
	check(res)
	return res
}

// publishSaturating runs clients publishers for d, each sending its next
// request as soon as the last is answered: one event through POST
// /v1/events when batch is 1, else batch events through POST
// /v1/events/batch. Each event's "t" is when its request was built. A 503
// or 429 is load shedding: its events are counted as refused and the client
// waits the Retry-After (at most a second) before going on with new events.
// Any other failure stops the run.
func publishSaturating(ctx context.Context, h *heraldProc, shape eventShape, clients, batch int, d time.Duration, seqs, fanout int) (*Saturation, publishStats, error) {
	sat := &Saturation{Clients: clients, Batch: batch}
	var ps publishStats
	var next, accepted, refused, refusedReqs atomic.Int64
	var capped atomic.Bool
	seconds := int(d/time.Second) + 2
	timeline := make([]atomic.Int64, seconds)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &tally{ps: &ps, cancel: cancel}
	var wg sync.WaitGroup
	ps.start = time.Now()
	deadline := ps.start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, batch*1024)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				lo := int(next.Add(int64(batch))) - batch
				if lo+batch > seqs {
					capped.Store(true)
					return
				}
				sent := time.Now()
				err := publishOnce(ctx, h, shape, buf, sent, lo, batch, fanout)
				done := time.Now()
				var ae *apiError
				if errors.As(err, &ae) && (ae.status == http.StatusServiceUnavailable || ae.status == http.StatusTooManyRequests) {
					refused.Add(int64(batch))
					refusedReqs.Add(1)
					t.add(sent, done, nil)
					wait := time.Second
					if s, perr := strconv.Atoi(ae.retryAfter); perr == nil && s >= 0 {
						wait = min(wait, time.Duration(s)*time.Second)
					}
					select {
					case <-ctx.Done():
					case <-time.After(max(wait, 50*time.Millisecond)):
					}
					continue
				}
				if err == nil {
					accepted.Add(int64(batch))
					if sec := int(done.Sub(ps.start) / time.Second); sec < seconds {
						timeline[sec].Add(int64(batch))
					}
				}
				t.add(sent, done, err)
			}
		}()
	}
	wg.Wait()
	ps.Events = int(accepted.Load())
	ps.finish(t.lat, t.firstErr)
	sat.LoadSeconds, sat.Requests, sat.RequestLatency = ps.Seconds, ps.Requests, ps.Latency
	sat.Accepted, sat.Refused, sat.RefusedRequests = accepted.Load(), refused.Load(), refusedReqs.Load()
	sat.AcceptedRate, sat.Capped = ps.Rate, capped.Load()
	for i := range timeline {
		if v := timeline[i].Load(); v > 0 || i < int(d/time.Second) {
			sat.AcceptedTimeline = append(sat.AcceptedTimeline, v)
		}
	}
	return sat, ps, t.firstErr
}

// publishOnce publishes events [lo, lo+batch) in one request, with "t" at
// sent, and checks that each fanned out to fanout endpoints.
func publishOnce(ctx context.Context, h *heraldProc, shape eventShape, buf []byte, sent time.Time, lo, batch, fanout int) error {
	at := sent.UnixNano()
	if batch == 1 {
		buf = shape.appendEvent(buf[:0], at, int64(lo))
		var ans struct {
			ID         string `json:"id"`
			Deliveries int    `json:"deliveries"`
		}
		if err := h.call(ctx, http.MethodPost, "/v1/events", buf, http.StatusAccepted, &ans); err != nil {
			return err
		}
		if ans.Deliveries != fanout {
			return fmt.Errorf("event %s fanned out to %d endpoints, want %d", ans.ID, ans.Deliveries, fanout)
		}
		return nil
	}
	buf = append(buf[:0], `{"events":[`...)
	for seq := lo; seq < lo+batch; seq++ {
		if seq > lo {
			buf = append(buf, ',')
		}
		buf = shape.appendEvent(buf, at, int64(seq))
	}
	buf = append(buf, "]}"...)
	var ans batchAnswer
	if err := h.call(ctx, http.MethodPost, "/v1/events/batch", buf, http.StatusAccepted, &ans); err != nil {
		return err
	}
	if len(ans.Data) != batch {
		return fmt.Errorf("batch of %d answered with %d results", batch, len(ans.Data))
	}
	for _, r := range ans.Data {
		if r.Deliveries != fanout {
			return fmt.Errorf("event %s fanned out to %d endpoints, want %d", r.ID, r.Deliveries, fanout)
		}
	}
	return nil
}
