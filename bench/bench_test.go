package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// TestMain lets the test binary play the receiver when the harness
// re-executes it.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "receiver" {
		main()
		return
	}
	os.Exit(m.Run())
}

// smallRun is every scenario with small counts: a check of the harness,
// not a measurement. It builds Herald from the working tree, or from the
// commit in $HERALD_BENCH_REV.
func smallRun(database string) config {
	return config{
		scenarios: allScenarios, scale: 1, database: database, rev: os.Getenv("HERALD_BENCH_REV"),
		endpoints: 10, concurrency: 16, publishers: 2, batch: 250,
		burstEvents: 300, steadyRate: 200, steadyDuration: 2 * time.Second, steadyEndpoints: 2,
		backlogDeliveries: 1500, badEvents: 200, badTimeout: 500 * time.Millisecond,
		ceilingRequests: 2000, profilesEvents: 300, profilesRounds: 1, profiles: map[string]bool{},
		hostileClients: 8, hostileFor: 5 * time.Second, slowConnections: 100,
		saturationClients: 20, saturationBatch: 1, saturationDuration: 2 * time.Second, saturationEndpoints: 2,
		singleEvents: 300, singlePublishers: 8, singleSteadyRate: 200, singleSteadyEndpoints: 2,
		orderedJobs: 100, orderedSteps: 5, orderedFailPercent: 30,
		rateLimitDuration: 3 * time.Second,
	}
}

// TestEveryScenarioDeliversEverything runs the harness end to end and
// asserts only correctness: every published event arrived at every
// endpoint it was for, exactly once, and the sampled signatures verify.
func TestEveryScenarioDeliversEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Herald")
	}
	t.Run("sqlite", func(t *testing.T) { checkRun(t, smallRun("")) })
	t.Run("postgres", func(t *testing.T) {
		base := pgtest.BaseURL()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Skipf("PostgreSQL unreachable at %s: %v", base, err)
		}
		conn.Close(ctx)
		checkRun(t, smallRun(base))
	})
}

func checkRun(t *testing.T, cfg config) {
	run, err := execute(context.Background(), cfg, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != len(allScenarios) {
		t.Fatalf("%d results for %d scenarios", len(run.Results), len(allScenarios))
	}
	for _, r := range run.Results {
		results := []*Result{r}
		if r.Baseline != nil {
			results = append(results, r.Baseline)
		}
		if r.Profiles != nil {
			r.Profiles.each(func(_ int, rr *Result) { results = append(results, rr) })
		}
		for _, r := range results {
			if !r.OK {
				t.Errorf("%s: %s", r.Scenario, r.Error)
				continue
			}
			if r.SlowBody != nil {
				// Nothing is published: the scenario checks its own outcome
				// (every slow connection closed in time, every API call
				// answered), and OK says it held.
				continue
			}
			rc := r.Received
			if rc.Unique != r.Deliveries || r.Deliveries == 0 {
				t.Errorf("%s: %d of %d deliveries arrived", r.Scenario, rc.Unique, r.Deliveries)
			}
			var sum int64
			for _, n := range rc.PerEndpoint {
				sum += n
			}
			if sum != rc.Unique {
				t.Errorf("%s: per-endpoint counts add up to %d, not %d", r.Scenario, sum, rc.Unique)
			}
			if rc.Duplicates != 0 || rc.Stale != 0 || rc.Malformed != 0 {
				t.Errorf("%s: %d duplicates, %d stale, %d malformed", r.Scenario, rc.Duplicates, rc.Stale, rc.Malformed)
			}
			if rc.SigChecked == 0 || rc.SigFailed != 0 {
				t.Errorf("%s: %d signatures checked, %d failed %v", r.Scenario, rc.SigChecked, rc.SigFailed, rc.SigErrors)
			}
			if rc.Latency.N != int(rc.Requests) {
				t.Errorf("%s: %d latencies for %d requests", r.Scenario, rc.Latency.N, rc.Requests)
			}
			if r.Scenario != "ceiling" && (r.CPU.Herald <= 0 || r.PeakRSSMB <= 0) {
				t.Errorf("%s: Herald CPU %.2fs, peak RSS %.0f MB: /proc not read", r.Scenario, r.CPU.Herald, r.PeakRSSMB)
			}
			// hostile publishes what Herald accepts of its clients' events.
			if r.Publish != nil && r.Publish.Events != r.Events && r.Hostile == nil {
				t.Errorf("%s: published %d of %d events", r.Scenario, r.Publish.Events, r.Events)
			}
		}
	}
	if bad := find(run, "badneighbour"); bad != nil && (bad.Received == nil || bad.Received.Hangs == 0) {
		t.Error("the bad endpoint was never called")
	}
	if b := find(run, "backlog"); b != nil && (b.Ingest == nil || b.Drain == nil || b.Drain.Rate <= 0) {
		t.Errorf("backlog phases missing: %+v %+v", b.Ingest, b.Drain)
	}
	checkProfiles(t, find(run, "profiles"), cfg.profilesRounds)
	if s := find(run, "saturation"); s == nil || s.Saturation == nil || s.Received == nil {
		t.Error("no saturation result")
	} else if sat := s.Saturation; sat.Accepted == 0 || sat.Lost != 0 || sat.LagDuring.N+sat.LagAfter.N != int(s.Received.Requests) ||
		len(sat.AcceptedTimeline) == 0 || sat.CPULoad.Herald <= 0 {
		t.Errorf("saturation: %+v", sat)
	}
	if o := find(run, "ordered"); o == nil || o.Received == nil || o.Baseline == nil || o.Baseline.Received == nil {
		t.Error("no ordered result")
	} else if o.Received.OutOfOrder != 0 || o.Received.Refused == 0 || o.Baseline.Received.Refused == 0 || o.Ratio <= 0 {
		t.Errorf("ordered: %d out of order, %d and %d refused, ratio %.2f", o.Received.OutOfOrder, o.Received.Refused,
			o.Baseline.Received.Refused, o.Ratio)
	}
	if md := markdownReport(run); len(md) == 0 {
		t.Error("empty report")
	}
}

// checkProfiles asserts that the smart-kyc deliveries were verified by the
// Smart KYC document's recipe, side by side and in every round, and that
// the rounds give a comparison.
func checkProfiles(t *testing.T, p *Result, rounds int) {
	t.Helper()
	if p == nil || p.Received == nil || p.Profiles == nil {
		t.Fatal("no profiles result")
	}
	if got := p.Received.PerEndpoint; len(got) != 2 || got[0] != int64(p.Events) || got[1] != int64(p.Events) {
		t.Errorf("profiles side by side: per endpoint %v, want %d each", got, p.Events)
	}
	pr := p.Profiles
	if len(pr.Standard) != rounds || len(pr.SmartKYC) != rounds {
		t.Fatalf("%d standard and %d smart-kyc rounds, want %d each", len(pr.Standard), len(pr.SmartKYC), rounds)
	}
	for _, r := range append([]*Result{p}, pr.SmartKYC...) {
		if rc := r.Received; rc == nil || rc.SmartKYCChecked == 0 || rc.SmartKYCRequests != int64(r.Events) {
			t.Errorf("%s: smart-kyc requests and checks %+v, want %d requests and a check", r.Scenario, rc, r.Events)
		}
	}
	for _, r := range pr.Standard {
		if r.Received.SmartKYCRequests != 0 {
			t.Errorf("%s: %d smart-kyc requests", r.Scenario, r.Received.SmartKYCRequests)
		}
	}
	if pr.StandardMS <= 0 || pr.SmartKYCMS <= 0 || pr.Ratio <= 0 || len(pr.PairRatios) != rounds {
		t.Errorf("no comparison: %+v", pr)
	}
}

// TestSmartKYCSignatureIsTheDocumentsRecipe checks the receiver's recipe
// against the example of docs/profiles.md (K1, 281 bytes): the body the
// document shows, keyed with the API secret as text.
func TestSmartKYCSignatureIsTheDocumentsRecipe(t *testing.T) {
	body := `{"event":"submission.completed","timestamp":"2024-01-15T10:30:00Z","data":{"submissionId":"sub_123456","invitationId":"inv_123456","customerEmail":"customer@example.com","workflowId":"wf_123456","status":"completed","submittedAt":"2024-01-15T10:30:00Z"},"tenantId":"tenant_123456"}`
	const want = "17da9a7bb21c3463ea3868ca20db0d23fd22c30d0b67326ddc45f5dde61e313b"
	if len(body) != 281 {
		t.Fatalf("the example is %d bytes, not 281", len(body))
	}
	if got := smartKYCSignature("skyc_5f2b8e1d9c7a4b3e", []byte(body)); got != want {
		t.Errorf("signature %s, the document's example gives %s", got, want)
	}
}
