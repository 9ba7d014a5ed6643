package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// Markers of two people: each is in its person's event data, partner
// params, idempotency keys, job callback URL and the receiver's answers.
const (
	aliceMark = "ALICE-7Q2ZK9"
	bobMark   = "BOB-4XW8RM"
)

// echoReceiver answers every delivery with the marker it carries, in the
// body and in a header, as a receiver that echoes what it was sent does.
func echoReceiver(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mark := "nobody"
		for _, m := range []string{aliceMark, bobMark} {
			if bytes.Contains(body, []byte(m)) {
				mark = m
			}
		}
		w.Header().Set("X-Echo", mark)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":true,"user":%q}`, mark)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestErasureByPartnerParamLeavesNoTraceOfThePersonInFilesLogsOrAnswers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "herald.db")
		erasureProof(t, path, func(t *testing.T) []byte {
			var all []byte
			for _, suffix := range []string{"", "-wal", "-shm"} {
				raw, err := os.ReadFile(path + suffix)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				all = append(all, raw...)
			}
			return all
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := pgtest.URL(t)
		erasureProof(t, dbURL, func(t *testing.T) []byte { return vacuumAndDump(t, dbURL) })
	})
}

// vacuumAndDump runs the VACUUM docs/privacy.md tells operators to run
// after an erasure, then dumps Herald's schema with pg_dump.
func vacuumAndDump(t *testing.T, dbURL string) []byte {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `VACUUM (FULL) events, jobs, deliveries, attempts, idempotency_keys`); err != nil {
		t.Fatalf("vacuum: %v", err)
	}
	q.Del("search_path")
	u.RawQuery = q.Encode()
	out, err := exec.CommandContext(ctx, "pg_dump", "--dbname", u.String(), "--schema", schema).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return out
}

func erasureProof(t *testing.T, database string, files func(t *testing.T) []byte) {
	var logs servertest.Log
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := servertest.Start(t, servertest.WithLogger(log), func(s *servertest.Settings) { s.Database = database })
	ctx := t.Context()
	h.Tenant("acme")
	key := h.APIKey("acme", "sandbox")
	acme := client.New(h.URL, key.Key)
	rc := echoReceiver(t)
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, DefaultCallback: client.Ptr(true)})

	publish := func(mark string, n int) {
		ev := &client.PublishEvent{
			Type: "check.approved",
			Data: json.RawMessage(fmt.Sprintf(`{"name":"Person %s","otp":"%s-%d"}`, mark, mark, n)),
			Job: &client.JobRef{ID: "job-" + strings.ToLower(mark[:3]), Kind: "kyc",
				PartnerParams: json.RawMessage(fmt.Sprintf(`{"user_id":"user-%s"}`, mark)),
				CallbackURL:   rc.URL + "/session/" + mark},
			IdempotencyKey: fmt.Sprintf("idem-%s-%d", mark, n),
		}
		servertest.Must(acme.Publish(ctx, ev))(t)
	}
	delivered := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ds := servertest.Must(acme.ListDeliveries(ctx, &client.DeliveryListParams{Status: "succeeded"}))(t).Data
			if len(ds) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries succeeded, want %d", len(ds), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := range 2 {
		publish(aliceMark, i)
		publish(bobMark, i)
	}
	delivered(4)
	if !bytes.Contains(files(t), []byte(aliceMark)) {
		t.Fatal("the database files do not hold the marker before the erasure: the search proves nothing")
	}

	receipt := servertest.Must(acme.Erase(ctx, &client.ErasureRequest{PartnerParamKey: "user_id", PartnerParamValue: "user-" + aliceMark}))(t)
	want := client.ErasureCounts{Events: 2, Jobs: 1, Deliveries: 2, Attempts: 2, IdempotencyKeys: 2}
	if receipt.Matched != (client.ErasureMatched{Jobs: 1, Events: 2}) || receipt.Erased != want || receipt.ActorType != "api_key" {
		t.Fatalf("receipt %+v", receipt)
	}
	if strings.HasPrefix(database, "postgres") != (receipt.WALTruncated == nil) || receipt.WALTruncated != nil && !*receipt.WALTruncated {
		t.Fatalf("wal_truncated = %v", receipt.WALTruncated)
	}
	// Bob is still delivered to after the erasure.
	publish(bobMark, 2)
	delivered(5)

	// No API answer holds Alice's marker; Bob's data is all there.
	var answers bytes.Buffer
	record := func(v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		answers.Write(raw)
	}
	events := servertest.Must(acme.ListEvents(ctx, nil))(t).Data
	record(events)
	for _, ev := range events {
		record(servertest.Must(acme.GetEvent(ctx, ev.ID))(t))
	}
	ds := servertest.Must(acme.ListDeliveries(ctx, nil))(t).Data
	record(ds)
	for _, d := range ds {
		record(servertest.Must(acme.GetDelivery(ctx, d.ID))(t))
	}
	record(servertest.Must(acme.ListJobs(ctx, nil))(t))
	alice := servertest.Must(acme.GetJob(ctx, "job-ali"))(t)
	record(alice)
	bob := servertest.Must(acme.GetJob(ctx, "job-bob"))(t)
	record(bob)
	record(servertest.Must(acme.ListErasures(ctx, nil))(t))
	record(servertest.Must(h.Client.ListErasures(ctx, nil))(t))
	record(servertest.Must(h.Client.ListAuditLog(ctx, nil))(t))
	if strings.Contains(answers.String(), aliceMark) {
		t.Fatalf("an API answer holds Alice's marker: %s", answers.String())
	}
	if n := strings.Count(answers.String(), bobMark); n < 20 {
		t.Fatalf("Bob's marker appears %d times in the answers: his data is not intact", n)
	}
	if alice.ErasedAt == nil || alice.PartnerParams != nil || len(alice.Events) != 2 || alice.Events[0].ErasedAt == nil ||
		bob.ErasedAt != nil || len(bob.Events) != 3 {
		t.Fatalf("jobs after the erasure: alice %+v, bob %+v", alice, bob)
	}

	if strings.Contains(logs.String(), aliceMark) || strings.Contains(logs.String(), bobMark) {
		t.Fatalf("Herald's log prints personal data:\n%s", logs.String())
	}
	stored := files(t)
	if bytes.Contains(stored, []byte(aliceMark)) {
		i := bytes.Index(stored, []byte(aliceMark))
		t.Fatalf("the database files still hold Alice's marker: …%q…", stored[max(0, i-200):min(len(stored), i+100)])
	}
	if !bytes.Contains(stored, []byte(bobMark)) {
		t.Fatal("the database files lost Bob's marker")
	}
}

func TestErasureRefusesBadRequestsAndErasesNothing(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	h.Tenant("globex")
	key := h.APIKey("acme", "sandbox")
	tok := key.Key
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "http://127.0.0.1:9/hook"})
	h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"name":"KEEP-ME"}`),
		Job: &client.JobRef{ID: "job-1", PartnerParams: json.RawMessage(`{"user_id":"u1"}`)}})
	for name, c := range map[string]struct {
		call   servertest.Call
		status int
		where  string
	}{
		"no selector":       {servertest.Call{Tenant: "acme", Env: "sandbox", Body: map[string]any{}}, 422, "body"},
		"two selectors":     {servertest.Call{Tenant: "acme", Env: "sandbox", Body: map[string]any{"job_id": "job-1", "event_ids": []string{"evt_1"}}}, 422, "body"},
		"key without value": {servertest.Call{Tenant: "acme", Env: "sandbox", Body: map[string]any{"partner_param_key": "user_id"}}, 422, "body.partner_param_value"},
		"unknown field":     {servertest.Call{Tenant: "acme", Env: "sandbox", Body: map[string]any{"job_id": "job-1", "user": "u1"}}, 422, "body.user"},
		"another scope":     {servertest.Call{Tenant: "globex", Env: "sandbox", Token: &tok, Body: map[string]any{"job_id": "job-1"}}, 403, "header.Herald-Tenant"},
		"too many events":   {servertest.Call{Tenant: "acme", Env: "sandbox", Body: map[string]any{"event_ids": make([]string, 1001)}}, 422, "body.event_ids"},
	} {
		t.Run(name, func(t *testing.T) {
			c.call.Method, c.call.Path = http.MethodPost, "/v1/erasures"
			res := h.Do(c.call)
			if res.Status != c.status || !strings.Contains(string(res.Body), c.where) {
				t.Fatalf("%d %s, want %d naming %s", res.Status, res.Body, c.status, c.where)
			}
		})
	}
	ev := servertest.Must(h.As("acme", "sandbox").ListEvents(t.Context(), nil))(t).Data
	job := servertest.Must(h.As("acme", "sandbox").GetJob(t.Context(), "job-1"))(t)
	erasures := servertest.Must(h.Client.ListErasures(t.Context(), nil))(t).Data
	if len(ev) != 1 || !strings.Contains(string(ev[0].Data), "KEEP-ME") || job.ErasedAt != nil || len(erasures) != 0 {
		t.Fatalf("a refused erasure changed something: events %+v, job %+v, receipts %d", ev, job, len(erasures))
	}
	// Matching nothing is a receipt with zero counts, not an error.
	r := servertest.Must(h.As("acme", "sandbox").Erase(t.Context(), &client.ErasureRequest{JobID: "job-nobody"}))(t)
	if r.Matched != (client.ErasureMatched{}) || r.Erased != (client.ErasureCounts{}) || r.ID == "" {
		t.Fatalf("receipt %+v", r)
	}
}

func TestAnEndpointsResponseBodySettingKeepsTheAnswerWholeHeadersOnlyOrNothing(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		rc := echoReceiver(t)
		sc := h.As("acme", "sandbox")
		ids := map[string]string{}
		for _, mode := range []string{"", "full", "headers", "none"} {
			in := client.EndpointCreate{URL: rc.URL + "/" + mode, ResponseBody: mode}
			e := h.Endpoint("acme", "sandbox", in)
			want := mode
			if want == "" {
				want = "full"
			}
			if e.ResponseBody != want {
				t.Fatalf("created with %q: response_body %q", mode, e.ResponseBody)
			}
			ids[e.ID] = want
		}
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"name":"` + bobMark + `"}`)})
		deadline := time.Now().Add(20 * time.Second)
		for {
			ds := servertest.Must(sc.ListDeliveries(t.Context(), &client.DeliveryListParams{Status: "succeeded"}))(t).Data
			if len(ds) == len(ids) {
				for _, d := range ds {
					a := servertest.Must(sc.GetDelivery(t.Context(), d.ID))(t).Attempts[0]
					body, headers := a.ResponseBody != "", a.ResponseHeaders["X-Echo"] == bobMark
					mode := ids[d.EndpointID]
					if a.ResponseStatus != 200 || body != (mode == "full") || headers != (mode != "none") {
						t.Fatalf("%s: status %d, body %q, headers %v", mode, a.ResponseStatus, a.ResponseBody, a.ResponseHeaders)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries succeeded, want %d", len(ds), len(ids))
			}
			time.Sleep(50 * time.Millisecond)
		}
		// It changes like any other field, and a bad value names it.
		for id := range ids {
			e := servertest.Must(sc.UpdateEndpoint(t.Context(), id, &client.EndpointUpdate{ResponseBody: client.Ptr("none")}))(t)
			if e.ResponseBody != "none" {
				t.Fatalf("updated: %q", e.ResponseBody)
			}
			_, err := sc.UpdateEndpoint(t.Context(), id, &client.EndpointUpdate{ResponseBody: client.Ptr("some")})
			if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "response_body") {
				t.Fatalf("bad value: %v", e)
			}
			break
		}
	})
}

func TestARetryOfAnErasedDeliveryIsCancelledNotSent(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	rc := servertest.NewReceiver(t)
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	sc := h.As("acme", "sandbox")
	p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: json.RawMessage(`{"name":"` + aliceMark + `"}`)})
	rc.Next(10 * time.Second)
	servertest.Must(sc.Erase(t.Context(), &client.ErasureRequest{EventIDs: []string{p.ID}}))(t)
	d := h.Deliveries("acme", "sandbox", nil)[0]
	servertest.Must(sc.RetryDelivery(t.Context(), d.ID))(t)
	rc.Quiet(time.Second)
	got := h.Delivery("acme", "sandbox", d.ID)
	for deadline := time.Now().Add(10 * time.Second); got.Status == "pending" && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		got = h.Delivery("acme", "sandbox", d.ID)
	}
	if got.Status != "cancelled" || got.ErasedAt == nil || len(got.Attempts) != 2 || got.Attempts[1].ResponseStatus != 0 {
		t.Fatalf("retried erased delivery: %+v", got)
	}
}
