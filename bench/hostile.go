package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Hostile is what the hostile scenario adds to a result: many clients
// publish batches of 15 MiB at once, and keep sending each refused batch
// again after its Retry-After, for a while. Herald must keep its memory
// under a bound, refuse what does not fit with 429 or 503, and deliver
// every event it accepted.
type Hostile struct {
	Clients    int     `json:"clients"`
	BatchMiB   float64 `json:"batch_mib"`
	Seconds    float64 `json:"seconds"`
	Accepted   int     `json:"accepted_batches"`
	Refused429 int     `json:"refused_429"`
	Refused503 int     `json:"refused_503"`
	// Refused408 are bodies that did not arrive within the API's body
	// timeout (5 s): on a busy machine, the publisher itself is slow.
	Refused408 int `json:"refused_408"`
	// Dropped are attempts whose connection closed before an answer was
	// read: Herald answers a refusal at once and closes, while the client
	// may still be sending its body.
	Dropped   int    `json:"dropped"`
	Other     int    `json:"other_answers"`
	FirstElse string `json:"first_other,omitempty"`
	// BoundMB is the peak RSS the scenario must stay under.
	BoundMB float64 `json:"bound_mb"`
}

// hostileBoundMB is the stated bound on Herald's peak RSS in the hostile
// scenario, with its default limits (docs/performance.md).
const hostileBoundMB = 512

// hostile runs cfg.hostileClients publishers at once, half with the bench
// tenant's API key (its share: --max-tenant-body-bytes-in-flight) and half
// as the operator (the process's: --max-body-bytes-in-flight), each sending
// one batch of about 15 MiB (1,000 events of 15 KiB) and sending it again
// after each refusal's Retry-After, for cfg.hostileFor.
func (r *runner) hostile(ctx context.Context) *Result {
	const perBatch, pad = 1000, 15 << 10
	clients := r.cfg.hostileClients
	events := clients * perBatch
	h := &Hostile{Clients: clients, BoundMB: hostileBoundMB}
	res := r.deliver(ctx, "hostile", events, 1, nil, false, func(st *stage) (publishStats, error) {
		return r.hostilePublish(ctx, st, h, perBatch, pad)
	})
	res.Hostile = h
	if res.Publish == nil {
		return res
	}
	switch {
	case h.Accepted == 0:
		res.fail("no batch was accepted")
	case h.Refused429 == 0 && h.Refused503 == 0:
		res.fail("nothing was refused: the limits did not bind")
	case h.Other > 0:
		res.fail(fmt.Sprintf("%d answers neither 202, 408, 429 nor 503 (first %s)", h.Other, h.FirstElse))
	case res.PeakRSSMB > hostileBoundMB:
		res.fail(fmt.Sprintf("peak RSS %.0f MB over the bound of %d MB", res.PeakRSSMB, hostileBoundMB))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d clients × %.1f MiB batches for %.0f s: %d accepted, %d × 429, %d × 503, %d × 408, %d connections closed before the answer; peak RSS %.0f MB (bound %d MB)",
		clients, h.BatchMiB, h.Seconds, h.Accepted, h.Refused429, h.Refused503, h.Refused408, h.Dropped, res.PeakRSSMB, hostileBoundMB))
	return res
}

// hostilePublish is hostile's publishing: the clients, their batches and
// their answers, into h; it returns the events Herald accepted.
func (r *runner) hostilePublish(ctx context.Context, st *stage, h *Hostile, perBatch, pad int) (publishStats, error) {
	var key struct {
		Key string `json:"key"`
	}
	if err := st.h.call(ctx, http.MethodPost, "/v1/tenants/"+benchTenant+"/api-keys", []byte(`{"environment":"`+benchEnvironment+`"}`), http.StatusCreated, &key); err != nil {
		return publishStats{}, err
	}
	clients := h.Clients
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}
	defer client.CloseIdleConnections()
	// Every client measures its body first; then all start at once.
	var start, deadline time.Time
	var mu sync.Mutex
	var accepted atomic.Int64
	var wg, ready sync.WaitGroup
	gate := make(chan struct{})
	for c := range clients {
		ready.Add(1)
		wg.Go(func() {
			b := &batchBody{shape: r.cfg.shape, lo: c * perBatch, hi: (c + 1) * perBatch, at: time.Now().UnixNano(), pad: pad}
			size := b.size()
			mu.Lock()
			h.BatchMiB = float64(size) / (1 << 20)
			mu.Unlock()
			ready.Done()
			<-gate
			for time.Now().Before(deadline) && ctx.Err() == nil {
				status, wait, err := r.sendBatch(ctx, client, st.h.base, b, size, c%2 == 0, key.Key)
				mu.Lock()
				switch {
				case err != nil:
					h.Dropped++
				case status == http.StatusAccepted:
					h.Accepted++
				case status == http.StatusTooManyRequests:
					h.Refused429++
				case status == http.StatusServiceUnavailable:
					h.Refused503++
				case status == http.StatusRequestTimeout:
					h.Refused408++
				default:
					h.Other++
					if h.FirstElse == "" {
						h.FirstElse = strconv.Itoa(status)
					}
				}
				mu.Unlock()
				if err == nil && status == http.StatusAccepted {
					accepted.Add(int64(perBatch))
					return
				}
				if err != nil {
					wait = time.Second
				}
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		})
	}
	ready.Wait()
	start = time.Now()
	deadline = start.Add(r.cfg.hostileFor)
	close(gate)
	wg.Wait()
	h.Seconds = time.Since(start).Seconds()
	ps := publishStats{Events: int(accepted.Load()), Requests: h.Accepted + h.Refused429 + h.Refused503 + h.Refused408 + h.Dropped + h.Other,
		Seconds: h.Seconds, start: start, end: time.Now()}
	ps.Rate = float64(ps.Events) / h.Seconds
	return ps, nil
}

// sendBatch posts one batch, as the tenant's key or the operator, and
// returns the status and, for a refusal, its Retry-After.
func (r *runner) sendBatch(ctx context.Context, client *http.Client, base string, b *batchBody, size int64, operator bool, key string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events/batch", b.reader())
	if err != nil {
		return 0, 0, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	if operator {
		req.Header.Set("Authorization", "Bearer "+operatorToken)
		req.Header.Set("Herald-Tenant", benchTenant)
		req.Header.Set("Herald-Environment", benchEnvironment)
	} else {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusAccepted {
		var ans batchAnswer
		if err := json.Unmarshal(raw, &ans); err != nil || len(ans.Data) != b.hi-b.lo {
			return 0, 0, errors.Join(errors.New("batch answered without every event"), err)
		}
	}
	wait := time.Second
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, wait, nil
}

// batchBody is a batch of events [lo, hi) published at at, each with pad
// bytes of padding in its data, written as it is read so that hundreds of
// 15 MiB bodies cost the publisher no memory.
type batchBody struct {
	shape  eventShape
	lo, hi int
	at     int64
	pad    int
}

func (b *batchBody) size() int64 {
	n, _ := io.Copy(io.Discard, b.reader())
	return n
}

func (b *batchBody) reader() io.Reader {
	return &batchReader{b: b, next: b.lo - 1}
}

var padding = []byte(strings.Repeat("x", 64<<10))

type batchReader struct {
	b    *batchBody
	next int // -1 before the opening; hi after the last event
	buf  []byte
	done bool
}

func (r *batchReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		r.fill()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// fill makes the next piece: the opening, one event, or the closing.
func (r *batchReader) fill() {
	b := r.b
	switch {
	case r.next < b.lo:
		r.buf = append(r.buf[:0], `{"events":[`...)
		r.next = b.lo
	case r.next < b.hi:
		buf := r.buf[:0]
		if r.next > b.lo {
			buf = append(buf, ',')
		}
		ev := b.shape.appendEvent(nil, b.at, int64(r.next))
		// The data object ends the event: pad it before its closing brace.
		at := strings.LastIndex(string(ev), "}}")
		if b.shape.Jobs {
			at = strings.Index(string(ev), `},"job":`)
		}
		buf = append(buf, ev[:at]...)
		buf = append(buf, `,"pad":"`...)
		buf = append(buf, padding[:b.pad]...)
		buf = append(buf, '"')
		buf = append(buf, ev[at:]...)
		r.buf = buf
		r.next++
	default:
		r.buf = append(r.buf[:0], "]}"...)
		r.done = true
	}
}
