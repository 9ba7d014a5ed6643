package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// sameJSON says whether two JSON documents hold the same values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// scoped sets the environment for the operator acting for acme's sandbox.
func scoped(t *testing.T, h *servertest.Herald) {
	t.Setenv("HERALD_URL", h.URL)
	t.Setenv("HERALD_TOKEN", servertest.Token)
	t.Setenv("HERALD_TENANT", "acme")
	t.Setenv("HERALD_ENVIRONMENT", "sandbox")
}

func TestSendDeliversACatalogExampleAndDataFromAFlagOrStandardInput(t *testing.T) {
	isolate(t)
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		scoped(t, h)
		rc := servertest.NewReceiver(t)
		ep := h.Endpoint("acme", client.Sandbox, client.EndpointCreate{URL: rc.URL, EventTypes: []string{"verification.*"}})
		rc.Trust(ep.Secret)

		sent := okJSON[published](t, "send", "verification.approved", "--example")
		if sent.ID == "" || sent.Deliveries != 1 {
			t.Fatalf("sent %+v", sent)
		}
		got := rc.Next(10 * time.Second)
		if got.Valid != nil || got.Event.ID != sent.ID || got.Event.Type != "verification.approved" {
			t.Fatalf("arrived %+v (%v)", got.Event, got.Valid)
		}
		example := servertest.Must(h.Client.GetEventType(t.Context(), "verification.approved"))(t).Example
		if !sameJSON(t, got.Event.Data, example) {
			t.Fatalf("the receiver got %s, the catalog's example is %s", got.Event.Data, example)
		}

		// The data from standard input, with a job; then a repeat with the
		// same idempotency key publishes nothing more.
		data := string(example)
		r := herald(t, t.Context(), data, "send", "verification.approved", "--data-file", "-",
			"--job-id", "job-7", "--job-kind", "kyc", "--partner-params", `{"user_id":"u1"}`, "--final", "--idempotency-key", "k1", "-o", "json")
		if r.Err != nil {
			t.Fatalf("send from stdin: %v\n%s", r.Err, r.Stderr)
		}
		got = rc.Next(10 * time.Second)
		if got.Event.Job == nil || got.Event.Job.ID != "job-7" || !got.Event.Final || !sameJSON(t, got.Event.Data, example) {
			t.Fatalf("arrived %+v", got.Event)
		}
		again := okJSON[published](t, "send", "verification.approved", "--data", data,
			"--job-id", "job-7", "--job-kind", "kyc", "--partner-params", `{"user_id":"u1"}`, "--final", "--idempotency-key", "k1")
		if !again.Replayed {
			t.Fatalf("a repeat with the same key: %+v", again)
		}

		// Data the type's schema refuses: the problem names the field.
		stderr := refused(t, 422, "send", "verification.approved", "--data", `{"status":"approved"}`)
		if !strings.Contains(stderr, "body.data") {
			t.Fatalf("a refused event reads:\n%s", stderr)
		}
		if r := herald(t, t.Context(), "", "send", "verification.approved"); r.Err == nil || !strings.Contains(r.Err.Error(), "--example") {
			t.Fatalf("send without data: %v", r.Err)
		}
		rc.Quiet(200 * time.Millisecond)
	})
}

// stream is a command running in the background, its output read line by
// line as it comes.
type stream struct {
	lines  chan string
	done   chan error
	cancel context.CancelFunc
}

// follow starts a long-running command.
func follow(t *testing.T, args ...string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	s := &stream{lines: make(chan string, 100), done: make(chan error, 1), cancel: cancel}
	go func() {
		err := runArgs(t, &IO{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard, Version: "test", Context: ctx}, args)
		_ = pw.Close()
		s.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// next is the next line the command writes, as a delivery.
func (s *stream) next(t *testing.T, timeout time.Duration) client.Delivery {
	t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			t.Fatal("the command ended")
		}
		var d client.Delivery
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("a line of tail -o json is not a delivery: %v\n%s", err, line)
		}
		return d
	case <-time.After(timeout):
		t.Fatalf("no line within %s", timeout)
	}
	return client.Delivery{}
}

func TestTailShowsDeliveriesAsTheyArriveAndAsTheyChange(t *testing.T) {
	isolate(t)
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		scoped(t, h)
		good, bad := servertest.NewReceiver(t), servertest.NewReceiver(t)
		bad.Respond(func(int, *http.Request) int { return http.StatusInternalServerError })
		okEP := h.Endpoint("acme", client.Sandbox, client.EndpointCreate{URL: good.URL})
		badEP := h.Endpoint("acme", client.Sandbox, client.EndpointCreate{URL: bad.URL, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
		publish := func() string {
			return h.Publish("acme", client.Sandbox, client.PublishEvent{Type: "kyc.started", Data: json.RawMessage(`{}`)}).ID
		}
		first := publish()
		good.Next(10 * time.Second)
		bad.Next(10 * time.Second)
		servertest.Eventually(t, 10*time.Second, "the first event's deliveries to end", func() bool {
			ds := h.Deliveries("acme", client.Sandbox, &client.DeliveryListParams{EventID: first, Status: client.DeliveryPending})
			return len(ds) == 0
		})

		// Everything on okEP: the last delivery first, then a new one
		// arriving, until it succeeds.
		all := follow(t, "tail", "--endpoint", okEP.ID, "-n", "1", "--interval", "200ms", "-o", "json")
		if d := all.next(t, 10*time.Second); d.EventID != first || d.Status != client.DeliverySucceeded {
			t.Fatalf("the backlog's line: %+v", d)
		}
		// Only failures on badEP, the one of the backlog and one more.
		failures := follow(t, "tail", "--endpoint", badEP.ID, "--status", "failed", "-n", "1", "--count", "2", "--interval", "200ms", "-o", "json")
		if d := failures.next(t, 10*time.Second); d.EventID != first || d.Status != client.DeliveryFailed {
			t.Fatalf("the failures' backlog: %+v", d)
		}

		second := publish()
		for {
			d := all.next(t, 10*time.Second)
			if d.EventID != second || d.EndpointID != okEP.ID {
				t.Fatalf("tail --endpoint showed %+v", d)
			}
			if d.Status == client.DeliverySucceeded {
				if d.AttemptCount != 1 {
					t.Fatalf("succeeded after %d attempts", d.AttemptCount)
				}
				break
			}
		}
		// Polls look back past the newest delivery seen, yet show none twice.
		select {
		case line := <-all.lines:
			t.Fatalf("a line after the delivery ended: %s", line)
		case <-time.After(time.Second):
		}
		d := failures.next(t, 10*time.Second)
		if d.EventID != second || d.EndpointID != badEP.ID || d.Status != client.DeliveryFailed || d.LastResponseStatus != 500 {
			t.Fatalf("tail --status failed showed %+v", d)
		}
		// --count 2 reached: it ends by itself.
		select {
		case err := <-failures.done:
			failures.done <- err // for the cleanup
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("tail --count 2 did not end")
		}
	})
}

func TestTailPrintsALineForPeople(t *testing.T) {
	isolate(t)
	h := servertest.Start(t)
	h.Tenant("acme")
	scoped(t, h)
	rc := servertest.NewReceiver(t)
	h.Endpoint("acme", client.Sandbox, client.EndpointCreate{URL: rc.URL})
	h.Publish("acme", client.Sandbox, client.PublishEvent{Type: "kyc.started", Data: json.RawMessage(`{}`)})
	rc.Next(10 * time.Second)
	servertest.Eventually(t, 10*time.Second, "the delivery to succeed", func() bool {
		ds := h.Deliveries("acme", client.Sandbox, &client.DeliveryListParams{Status: client.DeliverySucceeded})
		return len(ds) == 1
	})
	out := ok(t, "tail", "--count", "1")
	if !strings.Contains(out, "succeeded") || !strings.Contains(out, "kyc.started") || !strings.Contains(out, " 200") {
		t.Fatalf("tail's line for people:\n%s", out)
	}
}

func TestReplaySendsAFailedDeliveryAgain(t *testing.T) {
	isolate(t)
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		scoped(t, h)
		rc := servertest.NewReceiver(t)
		var failing atomic.Bool
		failing.Store(true)
		rc.Respond(func(int, *http.Request) int {
			if failing.Load() {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		ep := h.Endpoint("acme", client.Sandbox, client.EndpointCreate{URL: rc.URL, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
		failed := func(event string) client.Delivery {
			t.Helper()
			var d client.Delivery
			servertest.Eventually(t, 10*time.Second, "the delivery to fail", func() bool {
				ds := h.Deliveries("acme", client.Sandbox, &client.DeliveryListParams{EventID: event, Status: client.DeliveryFailed})
				if len(ds) == 1 {
					d = ds[0]
				}
				return len(ds) == 1
			})
			return d
		}

		sent := okJSON[published](t, "send", "kyc.started", "--data", "{}")
		firstTry := rc.Next(10 * time.Second)
		d := failed(sent.ID)
		failing.Store(false)

		// By id: sent again now, with the same webhook-id, and it succeeds.
		replayed := okJSON[client.List[client.Delivery]](t, "replay", "delivery", d.ID)
		if len(replayed.Data) != 1 || replayed.Data[0].ID != d.ID || replayed.Data[0].Status != client.DeliveryPending {
			t.Fatalf("replay delivery: %+v", replayed)
		}
		if again := rc.Next(10 * time.Second); again.ID != firstTry.ID {
			t.Fatalf("webhook-id %q, first sent as %q", again.ID, firstTry.ID)
		}
		servertest.Eventually(t, 10*time.Second, "the replayed delivery to succeed", func() bool {
			return h.Delivery("acme", client.Sandbox, d.ID).Status == client.DeliverySucceeded
		})

		// By event: nothing failed is left; all of its deliveries go again.
		stderr := herald(t, t.Context(), "", "replay", "event", sent.ID, "--status", "failed").Stderr
		if !strings.Contains(stderr, "no failed deliveries") {
			t.Fatalf("replay event --status failed with none: %s", stderr)
		}
		out := ok(t, "replay", "event", sent.ID)
		if !strings.Contains(out, d.ID) || !strings.HasPrefix(out, "DELIVERY") {
			t.Fatalf("replay event:\n%s", out)
		}
		rc.Next(10 * time.Second)

		// By endpoint: its failed deliveries of the last hour.
		failing.Store(true)
		other := okJSON[published](t, "send", "kyc.started", "--data", "{}")
		rc.Next(10 * time.Second)
		failed(other.ID)
		failing.Store(false)
		rec := okJSON[map[string]any](t, "replay", "endpoint", ep.ID, "--since", "1h")
		if rec["recovered"] != float64(1) {
			t.Fatalf("replay endpoint: %v", rec)
		}
		rc.Next(10 * time.Second)

		refused(t, 404, "replay", "delivery", "dlv_nothing")
	})
}
