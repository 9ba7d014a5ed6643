package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

var jobSearchTests = []conformanceTest{
	{"JobsFilterByPartnerParamValueKindStatusAndTime", testJobSearch},
	{"JobsPageNewestFirst", testJobsNewestFirst},
}

// jobIDs lists the jobs of a filter, failing the test on an error.
func jobIDs(t *testing.T, s store.Store, sc domain.Scope, f store.JobFilter) []string {
	t.Helper()
	js, err := s.ListJobs(ctx, sc, f)
	must(t, err)
	ids := make([]string, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	return ids
}

// putJobs registers jobs an hour ago, a second apart, in order.
func putJobs(t *testing.T, s store.Store, sc domain.Scope, jobs ...domain.Job) time.Time {
	t.Helper()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range jobs {
		_, err := s.PutJob(ctx, sc, &jobs[i], t0.Add(time.Duration(i)*time.Second))
		must(t, err)
	}
	return t0
}

func testJobSearch(t *testing.T, s store.Store) {
	setup(t, s)
	t0 := putJobs(t, s, scope,
		domain.Job{ID: "job_1", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-1","n":42}`)},
		domain.Job{ID: "job_2", Kind: "kyb", PartnerParams: json.RawMessage(`{"user_id":"u-2","nested":{"user_id":"u-1"},"f":1.5,"list":["u-1"]}`)},
		domain.Job{ID: "job_3", Kind: "kyc", PartnerParams: json.RawMessage(`{"ref":"u-1"}`)},
		domain.Job{ID: "job_4", Kind: "kyc"},
	)
	_, err := s.PutJob(ctx, other, &domain.Job{ID: "job_x", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}, t0)
	must(t, err)
	ev := event("verification.approved")
	ev.Job = &domain.Job{ID: "job_3"}
	_, err = s.Publish(ctx, scope, []store.Publication{{Event: ev}})
	must(t, err)

	for _, c := range []struct {
		name string
		f    store.JobFilter
		want []string
	}{
		// A top-level value under any key, in this scope only; not nested,
		// not in an array, not a prefix.
		{"string value", store.JobFilter{PartnerParam: "u-1"}, []string{"job_1", "job_3"}},
		{"whole number", store.JobFilter{PartnerParam: "42"}, []string{"job_1"}},
		{"fraction", store.JobFilter{PartnerParam: "1.5"}, nil},
		{"prefix", store.JobFilter{PartnerParam: "u-"}, nil},
		{"key", store.JobFilter{PartnerParam: "user_id"}, nil},
		{"kind", store.JobFilter{Kind: "kyb"}, []string{"job_2"}},
		{"status", store.JobFilter{Status: "verification.approved"}, []string{"job_3"}},
		{"status and param", store.JobFilter{Status: "verification.approved", PartnerParam: "u-2"}, nil},
		{"updated before", store.JobFilter{UpdatedBefore: t0.Add(1500 * time.Millisecond)}, []string{"job_1", "job_2"}},
		{"window and kind", store.JobFilter{UpdatedSince: t0.Add(time.Second), UpdatedBefore: t0.Add(time.Minute), Kind: "kyc"}, []string{"job_4"}},
	} {
		got := jobIDs(t, s, scope, c.f)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: jobs %v, want %v", c.name, got, c.want)
		}
	}
	if got := jobIDs(t, s, other, store.JobFilter{PartnerParam: "u-1"}); !slices.Equal(got, []string{"job_x"}) {
		t.Errorf("the other tenant's search: %v", got)
	}
}

func testJobsNewestFirst(t *testing.T, s store.Store) {
	setup(t, s)
	putJobs(t, s, scope,
		domain.Job{ID: "job_a", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)},
		domain.Job{ID: "job_b", PartnerParams: json.RawMessage(`{"user_id":"u-2"}`)},
		domain.Job{ID: "job_c", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)},
		domain.Job{ID: "job_d", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)},
	)
	if got := jobIDs(t, s, scope, store.JobFilter{Newest: true}); !slices.Equal(got, []string{"job_d", "job_c", "job_b", "job_a"}) {
		t.Fatalf("newest first: %v", got)
	}
	// Pages of the matches, newest first, each after the last one's place.
	var pages [][]string
	cursor := ""
	for range 4 {
		got := jobIDs(t, s, scope, store.JobFilter{Newest: true, PartnerParam: "u-1", Page: store.Page{Limit: 2, Cursor: cursor}})
		pages = append(pages, got)
		if len(got) < 2 {
			break
		}
		cursor = got[len(got)-1]
	}
	if len(pages) != 2 || !slices.Equal(pages[0], []string{"job_d", "job_c"}) || !slices.Equal(pages[1], []string{"job_a"}) {
		t.Fatalf("pages of u-1's jobs, newest first: %v", pages)
	}
}
