package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// TestDeadLettersExportAsNDJSONAndRetryInBulk: deliveries that failed
// while a receiver was down export as NDJSON, every one of them though
// they span several of the store's pages; a bulk retry without a filter
// is refused and queues nothing; once the receiver has recovered, a bulk
// retry of the endpoint's failed deliveries, in calls bounded by their
// limit, delivers them all.
func TestDeadLettersExportAsNDJSONAndRetryInBulk(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		const n = 600 // more than one page of the store (500)
		// Every delivery is to fail now, not wait behind an open circuit.
		h := start(withBreaker(domain.Breaker{Threshold: 1 << 30}))
		h.Tenant("acme")
		api := h.As("acme", "sandbox")
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		var mu sync.Mutex
		up := false
		succeeded := map[string]bool{}
		rc.Respond(func(int, *http.Request) int {
			mu.Lock()
			defer mu.Unlock()
			if up {
				return http.StatusNoContent
			}
			return http.StatusServiceUnavailable
		})
		done := make(chan struct{})
		defer close(done)
		go func() { // the receiver's queue is bounded: drain it
			for {
				select {
				case r := <-rc.Arrived():
					mu.Lock()
					if up {
						succeeded[r.ID] = true
					}
					mu.Unlock()
				case <-done:
					return
				}
			}
		}()
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
		other := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, EventTypes: []string{"verification.approved"}})
		for sent := 0; sent < n; sent += 300 {
			batch := make([]client.PublishEvent, 300)
			for i := range batch {
				batch[i] = client.PublishEvent{Type: "dead.letter", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, sent+i))}
			}
			servertest.Must(api.PublishBatch(ctx, batch))(t)
		}
		failed := &client.DeliveryListParams{EndpointID: ep.ID, Status: client.DeliveryFailed}
		servertest.Eventually(t, 60*time.Second, "every delivery failed", func() bool {
			l := servertest.Must(api.ListDeliveries(ctx, &client.DeliveryListParams{EndpointID: ep.ID, Status: client.DeliveryPending, ListParams: client.ListParams{Limit: 1}}))(t)
			return len(l.Data) == 0
		})

		// The export, on the wire: n lines, each a failed delivery.
		r := h.Must(http.StatusOK, servertest.Call{Method: "GET", Path: "/v1/deliveries?status=failed&endpoint_id=" + ep.ID, Tenant: "acme", Env: "sandbox",
			Headers: map[string]string{"Accept": "application/x-ndjson"}})
		if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Fatalf("Content-Type %q", ct)
		}
		lines, ids := 0, map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		for sc.Scan() {
			var d client.Delivery
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				t.Fatalf("line %d does not parse: %v: %s", lines+1, err, sc.Bytes())
			}
			if d.Status != client.DeliveryFailed || d.EndpointID != ep.ID {
				t.Fatalf("line %d: %+v", lines+1, d)
			}
			lines++
			ids[d.ID] = true
		}
		if lines != n || len(ids) != n {
			t.Fatalf("the export has %d lines, %d deliveries; want %d", lines, len(ids), n)
		}
		// The client's iterator reads the same export.
		count := 0
		for d, err := range api.ExportDeliveries(ctx, failed) {
			if err != nil {
				t.Fatal(err)
			}
			if !ids[d.ID] {
				t.Fatalf("the client's export has %s, not in the wire's", d.ID)
			}
			count++
		}
		if count != n {
			t.Fatalf("the client's export has %d, want %d", count, n)
		}

		// No filter, or one that selects what is already going: refused, nothing queued.
		for _, body := range []string{`{}`, `{"endpoint_id":"` + ep.ID + `"}`, `{"status":"pending"}`} {
			r := h.Must(http.StatusUnprocessableEntity, servertest.Call{Method: "POST", Path: "/v1/deliveries/retry", Tenant: "acme", Env: "sandbox", Body: body})
			if !bytes.Contains(r.Body, []byte("status")) || !bytes.Contains(r.Body, []byte(`"location":"body`)) {
				t.Fatalf("%s: the refusal does not name body.status: %s", body, r.Body)
			}
		}
		h.Must(http.StatusBadRequest, servertest.Call{Method: "POST", Path: "/v1/deliveries/retry", Tenant: "acme", Env: "sandbox"})
		if got := servertest.Must(api.ListDeliveries(ctx, &client.DeliveryListParams{EndpointID: ep.ID, Status: client.DeliveryPending}))(t); len(got.Data) != 0 {
			t.Fatalf("a refused retry queued %d deliveries", len(got.Data))
		}

		// The receiver is back: two bounded calls queue them all.
		mu.Lock()
		up = true
		mu.Unlock()
		retry := &client.DeliveryRetry{Status: client.DeliveryFailed, EndpointID: ep.ID, Limit: 500}
		first := servertest.Must(api.RetryDeliveries(ctx, retry))(t)
		second := servertest.Must(api.RetryDeliveries(ctx, retry))(t)
		if first.Queued != 500 || !first.LimitReached || second.Queued != n-500 || second.LimitReached {
			t.Fatalf("the retries queued %+v then %+v, want 500 (limit reached) then %d", first, second, n-500)
		}
		servertest.Eventually(t, 60*time.Second, "every retried delivery succeeded", func() bool {
			count := 0
			for _, err := range api.ExportDeliveries(ctx, &client.DeliveryListParams{EndpointID: ep.ID, Status: client.DeliverySucceeded}) {
				if err != nil {
					t.Fatal(err)
				}
				count++
			}
			return count == n
		})
		mu.Lock()
		arrived := len(succeeded)
		mu.Unlock()
		if arrived != n {
			t.Fatalf("the receiver took %d distinct deliveries after it recovered, want %d", arrived, n)
		}
		for d, err := range api.ExportDeliveries(ctx, &client.DeliveryListParams{EndpointID: ep.ID}) {
			if err != nil {
				t.Fatal(err)
			}
			if d.AttemptCount != 2 {
				t.Fatalf("delivery %s made %d attempts, want its failed one and the retry", d.ID, d.AttemptCount)
			}
		}
		if l := servertest.Must(api.ListDeliveries(ctx, &client.DeliveryListParams{EndpointID: other.ID}))(t); len(l.Data) != 0 {
			t.Fatalf("the other endpoint's filter took %d dead.letter deliveries", len(l.Data))
		}
	})
}
