package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// SlowBody is what the slowbody scenario adds to a result: connections
// that send a sign-in form's headers and then trickle its body, and an API
// client from another address meanwhile.
type SlowBody struct {
	Connections int `json:"connections"`
	Sources     int `json:"source_addresses"`
	// Answered408 were answered 408 and closed; Refused are connections
	// Herald refused at once (over a connection cap); Open were still open
	// at the end.
	Answered408 int `json:"answered_408"`
	Refused     int `json:"refused"`
	Other       int `json:"other"`
	Open        int `json:"still_open"`
	// ClosedAfterS is when the last of them was closed, from the first
	// connection.
	ClosedAfterS float64 `json:"closed_after_s"`
	// PeakFiles is the most files Herald had open (sampled every 100 ms).
	PeakFiles int `json:"peak_open_files"`
	// API: the calls made meanwhile and their latencies.
	APICalls    int         `json:"api_calls"`
	APIFailures int         `json:"api_failures"`
	APILatency  Percentiles `json:"api_latency_ms"`
}

// slowBodyBound is the time within which every slow body must be closed:
// Herald's default --body-timeout (10 s) and a few seconds of slack.
const slowBodyBound = 15 * time.Second

// slowBody opens cfg.slowConnections connections to the portal's and the
// console's sign-in forms, from eight loopback addresses (127.0.0.2-9, so
// that no one address passes its connection share), sends the headers and
// a few bytes of a declared 4 KiB body, then nothing; meanwhile an API
// client on 127.0.0.1 lists event types every 50 ms. Every slow connection
// must be closed within slowBodyBound and every API call must succeed.
func (r *runner) slowBody(ctx context.Context) *Result {
	const sources = 8
	n := r.cfg.slowConnections
	res := &Result{Scenario: "slowbody", Store: r.store, OK: true}
	st, err := r.startStage(ctx, "slowbody", false)
	if err != nil {
		res.fail(err.Error())
		return res
	}
	defer st.close()
	sb := &SlowBody{Connections: n, Sources: sources}
	res.SlowBody = sb
	addr := st.h.base[len("http://"):]
	pid := st.h.pid()

	stopFiles := make(chan struct{})
	filesDone := make(chan int)
	go func() {
		peak := 0
		for {
			if ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd"); err == nil {
				peak = max(peak, len(ents))
			}
			select {
			case <-stopFiles:
				filesDone <- peak
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	apiStop := make(chan struct{})
	apiDone := make(chan struct{})
	var lat []int64
	go func() {
		defer close(apiDone)
		for {
			t0 := time.Now()
			err := st.h.call(ctx, http.MethodGet, "/v1/event-types", nil, http.StatusOK, nil)
			lat = append(lat, time.Since(t0).Nanoseconds())
			sb.APICalls++
			if err != nil {
				sb.APIFailures++
				res.Notes = append(res.Notes, "API call: "+err.Error())
			}
			select {
			case <-apiStop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	type outcome struct {
		status string
		at     time.Time
	}
	outcomes := make(chan outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%sources))}
		path := "/portal/login"
		if i%2 == 1 {
			path = "/console/login"
		}
		d := &net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			outcomes <- outcome{status: "dial: " + err.Error(), at: time.Now()}
			continue
		}
		_, _ = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\napi_key=hk_", path, addr)
		wg.Go(func() {
			defer c.Close()
			_ = c.SetReadDeadline(start.Add(slowBodyBound + 10*time.Second))
			buf := make([]byte, 64)
			k, _ := io.ReadAtLeast(c, buf, 12)
			status := string(buf[:k])
			if k >= 12 {
				status = status[9:12]
			}
			// Read on until Herald closes the connection.
			_, err := io.Copy(io.Discard, c)
			if err != nil {
				status = "open"
			}
			outcomes <- outcome{status: status, at: time.Now()}
		})
	}
	wg.Wait()
	close(outcomes)
	var last time.Time
	for o := range outcomes {
		switch o.status {
		case "408":
			sb.Answered408++
		case "429", "503":
			sb.Refused++
		case "open":
			sb.Open++
		default:
			sb.Other++
		}
		if o.at.After(last) {
			last = o.at
		}
	}
	sb.ClosedAfterS = last.Sub(start).Seconds()
	close(apiStop)
	<-apiDone
	close(stopFiles)
	sb.PeakFiles = <-filesDone
	sb.APILatency = percentiles(lat)
	st.measure(res)
	switch {
	case sb.Open > 0:
		res.fail(fmt.Sprintf("%d slow connections still open after %s", sb.Open, slowBodyBound+10*time.Second))
	case sb.ClosedAfterS > slowBodyBound.Seconds():
		res.fail(fmt.Sprintf("the last slow connection was closed after %.1f s, over %s", sb.ClosedAfterS, slowBodyBound))
	case sb.APIFailures > 0:
		res.fail(fmt.Sprintf("%d of %d API calls failed meanwhile", sb.APIFailures, sb.APICalls))
	case sb.Other > 0:
		res.fail(fmt.Sprintf("%d slow connections got neither 408, 429 nor 503", sb.Other))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d slow bodies from %d addresses: %d answered 408 and closed, %d refused at once, %d still open; the last closed %.1f s after the first opened; Herald's open files peaked at %d; API meanwhile: %d calls, %d failed, p50 %.1f ms, p99 %.1f ms, max %.0f ms",
		n, sources, sb.Answered408, sb.Refused, sb.Open, sb.ClosedAfterS, sb.PeakFiles, sb.APICalls, sb.APIFailures, sb.APILatency.P50, sb.APILatency.P99, sb.APILatency.Max))
	return res
}
