package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// eventShape is how the publisher's events look.
type eventShape struct {
	// Jobs gives every event its own job (a job upsert per event).
	Jobs bool
	// PerJob, when set, makes every PerJob events in sequence one job
	// (job_<seq / PerJob>) instead.
	PerJob int
}

// appendEvent writes one event of the publish API: a verification.approved
// that Herald's KYC catalog schema accepts (so publishing pays for the
// schema check, as real traffic does). Its data starts with the publish
// time and the sequence number, which the receiver reads back; the rest is
// a result of about the size such platforms send.
func (s eventShape) appendEvent(b []byte, t, seq int64) []byte {
	b = append(b, `{"type":"verification.approved","data":{"t":`...)
	b = strconv.AppendInt(b, t, 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"status":"approved","decision":{"result":"approved","reasons":[],"result_code":"R100","result_text":"Verified"},`+
		`"checks":[{"name":"document","result":"clear","score":0.98},{"name":"liveness","result":"clear","score":0.99},{"name":"face_match","result":"clear","score":0.94}],`+
		`"risk_score":8,"reviewed_by":"auto","workflow":{"id":"wf_basic_kyc","name":"Basic KYC"},"user_id":"u-`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `"}`...)
	if s.Jobs || s.PerJob > 0 {
		b = append(b, `,"job":{"id":"job_`...)
		b = strconv.AppendInt(b, s.jobOf(seq), 10)
		b = append(b, `","kind":"kyc","partner_params":{"user_id":"u-`...)
		b = strconv.AppendInt(b, seq, 10)
		b = append(b, `"}}`...)
	}
	return append(b, '}')
}

// jobOf is the number of the job of event seq.
func (s eventShape) jobOf(seq int64) int64 {
	if s.PerJob > 0 {
		return seq / int64(s.PerJob)
	}
	return seq
}

// publishStats sums up a publish phase.
type publishStats struct {
	Events   int     `json:"events"`
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"`
	// Rate is events accepted per second, first request sent to last answer.
	Rate    float64     `json:"events_per_s"`
	Latency Percentiles `json:"request_latency_ms"`
	start   time.Time
	end     time.Time
}

func (p *publishStats) finish(lat []int64, err error) {
	p.Seconds = p.end.Sub(p.start).Seconds()
	if p.Seconds > 0 && err == nil {
		p.Rate = float64(p.Events) / p.Seconds
	}
	p.Latency = percentiles(lat)
}

// tally gathers the publishers' answers; the first error stops them all.
type tally struct {
	mu       sync.Mutex
	ps       *publishStats
	lat      []int64
	firstErr error
	cancel   context.CancelFunc
}

func (t *tally) add(sent, done time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil && t.firstErr == nil {
		t.firstErr = err
		t.cancel()
	}
	t.lat = append(t.lat, done.Sub(sent).Nanoseconds())
	t.ps.Requests++
	if done.After(t.ps.end) {
		t.ps.end = done
	}
}

type batchAnswer struct {
	Data []struct {
		ID         string `json:"id"`
		Deliveries int    `json:"deliveries"`
	} `json:"data"`
}

// publishBatches publishes events [0, total), batch at a time (through
// POST /v1/events/batch, or POST /v1/events when batch is 1), from several
// concurrent publishers, each as fast as Herald answers. Every event must
// fan out to fanout deliveries.
func publishBatches(ctx context.Context, h *heraldProc, shape eventShape, total, batch, publishers, fanout int) (publishStats, error) {
	ps := publishStats{Events: total}
	var next atomic.Int64
	nBatches := (total + batch - 1) / batch
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &tally{ps: &ps, cancel: cancel}
	var wg sync.WaitGroup
	ps.start = time.Now()
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, batch*1024)
			for {
				k := int(next.Add(1) - 1)
				if k >= nBatches || ctx.Err() != nil {
					return
				}
				lo, hi := k*batch, min((k+1)*batch, total)
				sent := time.Now()
				err := publishOnce(ctx, h, shape, buf, sent, lo, hi-lo, fanout)
				t.add(sent, time.Now(), err)
			}
		}()
	}
	wg.Wait()
	ps.finish(t.lat, t.firstErr)
	return ps, t.firstErr
}

// publishSteady publishes one event at a time through POST /v1/events at
// rate events a second for d, open loop: event i is due at start + i/rate
// and carries that due time as its publish time, so a slow answer delays
// the events behind it and the delay counts in their latency (no
// coordinated omission). workers bound the requests in flight.
func publishSteady(ctx context.Context, h *heraldProc, shape eventShape, rate int, d time.Duration, workers, fanout int) (publishStats, error) {
	total := int(float64(rate) * d.Seconds())
	ps := publishStats{Events: total}
	interval := time.Second / time.Duration(rate)
	var next atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &tally{ps: &ps, lat: make([]int64, 0, total), cancel: cancel}
	var wg sync.WaitGroup
	ps.start = time.Now().Add(20 * time.Millisecond)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 1024)
			for {
				seq := int(next.Add(1) - 1)
				if seq >= total || ctx.Err() != nil {
					return
				}
				due := ps.start.Add(time.Duration(seq) * interval)
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait)
				}
				buf = shape.appendEvent(buf[:0], due.UnixNano(), int64(seq))
				var ans struct {
					ID         string `json:"id"`
					Deliveries int    `json:"deliveries"`
				}
				sent := time.Now()
				err := h.call(ctx, http.MethodPost, "/v1/events", buf, http.StatusAccepted, &ans)
				if err == nil && ans.Deliveries != fanout {
					err = fmt.Errorf("event %s fanned out to %d endpoints, want %d", ans.ID, ans.Deliveries, fanout)
				}
				t.add(sent, time.Now(), err)
			}
		}()
	}
	wg.Wait()
	ps.finish(t.lat, t.firstErr)
	return ps, t.firstErr
}
