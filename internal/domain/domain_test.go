package domain

import (
	"errors"
	"testing"
	"time"
)

func TestFilterMatchesExactPrefixAndEverything(t *testing.T) {
	cases := []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, "anything.at.all", true},
		{[]string{"verification.approved"}, "verification.approved", true},
		{[]string{"verification.approved"}, "verification.rejected", false},
		{[]string{"verification.*"}, "verification.approved", true},
		{[]string{"verification.*"}, "verification.review.started", true},
		{[]string{"verification.*"}, "verification", false},
		{[]string{"verification.*"}, "verificationx.approved", false},
		{[]string{"aml.hit", "*"}, "media.uploaded", true},
	}
	for _, c := range cases {
		if got := MatchesFilter(c.filter, c.typ); got != c.want {
			t.Errorf("MatchesFilter(%v, %q) = %v, want %v", c.filter, c.typ, got, c.want)
		}
	}
}

func TestDefaultRetryPolicyIsSvixsEightAttempts(t *testing.T) {
	var p RetryPolicy
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	if p.Preset != PresetDefault || p.MaxAttempts() != 8 {
		t.Fatalf("policy = %+v, attempts %d", p, p.MaxAttempts())
	}
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for i, w := range want {
		d, ok := p.NextDelay(i + 1)
		if !ok || d < w*8/10 || d > w*12/10 {
			t.Fatalf("delay after attempt %d = %s, want %s ±20%%", i+1, d, w)
		}
	}
	if _, ok := p.NextDelay(8); ok {
		t.Fatal("a ninth attempt was scheduled")
	}
}

func TestRetryPresetsAndExplicitDelays(t *testing.T) {
	for preset, attempts := range map[string]int{PresetStandardWebhooks: 10, PresetOnce: 2, PresetNone: 1} {
		p := RetryPolicy{Preset: preset}
		if err := p.Normalize(); err != nil || p.MaxAttempts() != attempts {
			t.Errorf("%s: attempts %d, err %v; want %d", preset, p.MaxAttempts(), err, attempts)
		}
	}
	p := RetryPolicy{Preset: PresetNone, Delays: []string{"0s", "90s"}}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	if d, ok := p.NextDelay(1); !ok || d != 0 {
		t.Fatalf("first delay = %s %v", d, ok)
	}
	if p.Preset != "" || p.MaxAttempts() != 3 {
		t.Fatalf("explicit delays override the preset: %+v", p)
	}
	var ve *ValidationError
	bad := RetryPolicy{Delays: []string{"1m", "-5s"}}
	if err := bad.Normalize(); !errors.As(err, &ve) || ve.Field != "retry_policy.delays[1]" {
		t.Fatalf("negative delay: %v", err)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	var ve *ValidationError
	if err := ValidateTenantID("Acme Bank"); !errors.As(err, &ve) || ve.Field != "id" {
		t.Fatalf("tenant id: %v", err)
	}
	for _, ok := range []string{"acme", "acme-bank_2", "a"} {
		if err := ValidateTenantID(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	if err := ValidateHeaders(map[string]string{"Webhook-Id": "x"}); !errors.As(err, &ve) || ve.Field != "headers.Webhook-Id" {
		t.Fatalf("reserved header: %v", err)
	}
	if err := ValidateHeaders(map[string]string{"X-Ok": "a\r\nInjected: 1"}); err == nil {
		t.Fatal("header injection accepted")
	}
	if err := ValidateFilter([]string{"ok.*", "bad..type"}); !errors.As(err, &ve) || ve.Field != "event_types[1]" {
		t.Fatalf("filter: %v", err)
	}
}

func TestIDsSortByCreationTime(t *testing.T) {
	a := NewIDAt(PrefixEvent, time.Unix(1000, 0))
	b := NewIDAt(PrefixEvent, time.Unix(1001, 0))
	c := NewID(PrefixEvent)
	d := NewID(PrefixEvent)
	if !(a < b && b < c && c < d) {
		t.Fatalf("ids out of order: %s %s %s %s", a, b, c, d)
	}
}

func TestARotatedSecretSignsBesideTheNewOneUntilItsGraceEnds(t *testing.T) {
	e := &Endpoint{Secret: "whsec_old"}
	now := time.Now()
	if e.Rotating(now) || len(e.SigningSecrets(now)) != 1 {
		t.Fatal("an endpoint never rotated has one signing secret")
	}
	e.RotateSecret("whsec_new", now, time.Hour)
	if !e.UpdatedAt.Equal(now) || e.Secret != "whsec_new" || e.PreviousSecret != "whsec_old" {
		t.Fatalf("after a rotation: %+v", e)
	}
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{now, []string{"whsec_new", "whsec_old"}},
		{now.Add(time.Hour - time.Nanosecond), []string{"whsec_new", "whsec_old"}},
		{now.Add(time.Hour), []string{"whsec_new"}},
	} {
		got := e.SigningSecrets(c.at)
		if e.Rotating(c.at) != (len(c.want) == 2) || len(got) != len(c.want) || got[0] != c.want[0] || got[len(got)-1] != c.want[len(c.want)-1] {
			t.Errorf("at +%v: %v signs (rotating %v), want %v", c.at.Sub(now), got, e.Rotating(c.at), c.want)
		}
	}
	e.RotateSecret("whsec_next", now, 0)
	if e.Rotating(now) {
		t.Fatal("a rotation without grace lets the old secret sign")
	}
}

func TestIDAfterSortsJustAfterAtTheSameInstant(t *testing.T) {
	at := time.Now()
	id := NewIDAt(PrefixDelivery, at)
	next := IDAfter(id)
	if next <= id || next[:len(PrefixDelivery)+1] != PrefixDelivery+"_" || next[:14] != id[:14] {
		t.Fatalf("IDAfter(%s) = %s; want a later id of the same prefix and instant", id, next)
	}
	if later := NewIDAt(PrefixDelivery, at.Add(time.Millisecond)); next >= later {
		t.Fatalf("IDAfter(%s) = %s sorts after an id a millisecond later, %s", id, next, later)
	}
	// A carry runs through the entropy: ...ZZ + 1 ends in ...00.
	full := "dlv_01ARZ3NDEKTSV4RRFFQ69G5FAZ"
	if got := IDAfter(full); got <= full || got[len(got)-2:] != "B0" {
		t.Fatalf("IDAfter(%s) = %s", full, got)
	}
}
