package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// jobStep is the part of an envelope the ordering tests read.
type jobStep struct {
	Job  struct{ ID string } `json:"job"`
	Data struct{ Step int }  `json:"data"`
}

func readStep(t *testing.T, r *http.Request) jobStep {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	var s jobStep
	if err := json.Unmarshal(body, &s); err != nil {
		t.Errorf("envelope %s: %v", body, err)
	}
	return s
}

// TestOrderedEndpointDeliversEachJobInPublishOrderThroughFailures: to an
// endpoint with ordering job, whose receiver fails 30 % of requests at
// random, the events of 20 jobs, published interleaved, arrive in publish
// order within each job, never two of one job at once, and all of them;
// a plain endpoint beside it gets them all too, in whatever order.
func TestOrderedEndpointDeliversEachJobInPublishOrderThroughFailures(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		const jobs, steps = 20, 5
		// Five failures in a row, which 30 % at random make now and then,
		// would open the endpoint's circuit for a minute: this test is
		// about order, not the breaker.
		h := start(withBreaker(domain.Breaker{Threshold: 1 << 30}))
		h.Tenant("acme")
		api := h.As("acme", "sandbox")
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		var mu sync.Mutex
		rnd := rand.New(rand.NewPCG(17, 1))
		next := map[string]int{}     // the next step each job must deliver
		inFlight := map[string]int{} // requests of a job being answered
		var broken []string
		rc.Respond(func(_ int, r *http.Request) int {
			s := readStep(t, r)
			mu.Lock()
			inFlight[s.Job.ID]++
			if inFlight[s.Job.ID] > 1 {
				broken = append(broken, fmt.Sprintf("two requests of %s at once", s.Job.ID))
			}
			fail := rnd.Float64() < 0.3
			mu.Unlock()
			time.Sleep(2 * time.Millisecond) // room for a second request to overlap
			mu.Lock()
			defer mu.Unlock()
			inFlight[s.Job.ID]--
			if fail {
				return http.StatusInternalServerError
			}
			if s.Data.Step != next[s.Job.ID] {
				broken = append(broken, fmt.Sprintf("%s: step %d arrived when %d was next", s.Job.ID, s.Data.Step, next[s.Job.ID]))
			} else {
				next[s.Job.ID]++
			}
			return http.StatusOK
		})
		fast := &client.RetryPolicy{Delays: slices.Repeat([]string{"20ms"}, 30)}
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Ordering: client.OrderingJob, RetryPolicy: fast,
			MaxConcurrency: client.Ptr(8), EventTypes: []string{"step.done"}, AllowUnregisteredTypes: true})
		if ep.Ordering != client.OrderingJob {
			t.Fatalf("ordering %q, want job", ep.Ordering)
		}
		plain := servertest.NewReceiver(t)
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: plain.URL, RetryPolicy: fast, EventTypes: []string{"step.done"},
			AllowUnregisteredTypes: true})
		var batch []client.PublishEvent
		for step := range steps {
			for j := range jobs {
				batch = append(batch, client.PublishEvent{Type: "step.done", Data: json.RawMessage(fmt.Sprintf(`{"step":%d}`, step)),
					Job: &client.JobRef{ID: fmt.Sprintf("job_%02d", j)}})
			}
		}
		servertest.Must(api.PublishBatch(ctx, batch))(t)

		servertest.Eventually(t, 60*time.Second, "every job's steps delivered in order", func() bool {
			mu.Lock()
			defer mu.Unlock()
			if len(broken) > 0 {
				return true
			}
			for j := range jobs {
				if next[fmt.Sprintf("job_%02d", j)] < steps {
					return false
				}
			}
			return true
		})
		mu.Lock()
		if len(broken) > 0 {
			t.Fatalf("order broken: %s", strings.Join(broken, "; "))
		}
		mu.Unlock()
		servertest.Eventually(t, 30*time.Second, "the plain endpoint got every event", func() bool {
			return len(plain.Arrived()) >= jobs*steps
		})
		d := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{EndpointID: ep.ID, ListParams: client.ListParams{Limit: 1}})
		if len(d) != 1 || !strings.HasPrefix(d[0].OrderedJob, "job_") || d[0].FollowsFailed != "" {
			t.Fatalf("a delivery of the ordered endpoint = %+v; want its job shown and nothing skipped", d)
		}
	})
}

// TestExhaustedHeadLetsTheRestOfItsJobGoOnMarked: when the first delivery
// of a job runs out of attempts, the job's later ones go on, each showing
// the failed one in follows_failed; another job is never held back.
func TestExhaustedHeadLetsTheRestOfItsJobGoOnMarked(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		api := h.As("acme", "sandbox")
		ctx := t.Context()
		rc := servertest.NewReceiver(t)
		rc.Respond(func(_ int, r *http.Request) int {
			if s := readStep(t, r); s.Job.ID == "job_x" && s.Data.Step == 0 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, Ordering: client.OrderingJob,
			RetryPolicy: &client.RetryPolicy{Delays: []string{"50ms", "50ms"}}, EventTypes: []string{"step.done"}, AllowUnregisteredTypes: true})
		var ids []string
		for _, ev := range []struct {
			job  string
			step int
		}{{"job_x", 0}, {"job_y", 0}, {"job_x", 1}, {"job_x", 2}} {
			r := servertest.Must(api.Publish(ctx, &client.PublishEvent{Type: "step.done", Data: json.RawMessage(fmt.Sprintf(`{"step":%d}`, ev.step)),
				Job: &client.JobRef{ID: ev.job}}))(t)
			ids = append(ids, r.ID)
		}
		deliveryOf := func(eventID string) client.Delivery {
			l := h.Deliveries("acme", "sandbox", &client.DeliveryListParams{EventID: eventID, EndpointID: ep.ID})
			if len(l) != 1 {
				t.Fatalf("%d deliveries of %s", len(l), eventID)
			}
			return l[0]
		}
		servertest.Eventually(t, 30*time.Second, "job x's later events delivered", func() bool {
			return deliveryOf(ids[2]).Status == client.DeliverySucceeded && deliveryOf(ids[3]).Status == client.DeliverySucceeded
		})
		head := deliveryOf(ids[0])
		if head.Status != client.DeliveryFailed || head.AttemptCount != 3 || head.OrderedJob != "job_x" {
			t.Fatalf("the head = %+v; want failed after 3 attempts, of job_x", head)
		}
		for _, id := range ids[2:] {
			if d := deliveryOf(id); d.FollowsFailed != head.ID {
				t.Fatalf("delivery %s follows_failed %q, want %s", d.ID, d.FollowsFailed, head.ID)
			}
		}
		if y := deliveryOf(ids[1]); y.Status != client.DeliverySucceeded || y.FollowsFailed != "" {
			t.Fatalf("job y's delivery = %+v", y)
		}
		// The mark is also on the single delivery's page.
		if d := servertest.Must(api.GetDelivery(ctx, deliveryOf(ids[3]).ID))(t); d.FollowsFailed != head.ID {
			t.Fatalf("GET delivery follows_failed %q", d.FollowsFailed)
		}
	})
}

// TestEndpointOrderingIsValidatedAndPatched: ordering defaults to none,
// takes job through PATCH, and anything else is a 422 naming the field that
// changes nothing.
func TestEndpointOrderingIsValidatedAndPatched(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	api := h.As("acme", "sandbox")
	ctx := t.Context()
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://example.com/hook"})
	if ep.Ordering != client.OrderingNone {
		t.Fatalf("default ordering %q", ep.Ordering)
	}
	_, err := api.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Ordering: client.Ptr("fifo")})
	if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "body.ordering") {
		t.Fatalf("refusal %v does not name body.ordering", e)
	}
	got := servertest.Must(api.GetEndpoint(ctx, ep.ID))(t)
	if got.Ordering != client.OrderingNone {
		t.Fatalf("a refused PATCH changed ordering to %q", got.Ordering)
	}
	got = servertest.Must(api.UpdateEndpoint(ctx, ep.ID, &client.EndpointUpdate{Ordering: client.Ptr(client.OrderingJob)}))(t)
	if got.Ordering != client.OrderingJob {
		t.Fatalf("ordering %q after PATCH", got.Ordering)
	}
}
