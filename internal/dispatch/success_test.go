package dispatch

import (
	"strings"
	"testing"
)

// success_false_fails reads only the answer's top-level "success": a
// nested one, a string "false", an array or a body that is not JSON is no
// failure; of repeated members the last counts, as JSON decoders keep.
func TestSuccessFalseReadsOnlyTheTopLevelMember(t *testing.T) {
	for body, want := range map[string]bool{
		`{"success":false}`: true,
		"{ \"data\": {\"success\": true},\n \"success\" : false }": true,
		`{"success": false, "data": {"success": true}}`:            true,
		`{"data":{"success":false}}`:                               false,
		`{"note":"\"success\":false"}`:                             false,
		`{"success":"false"}`:                                      false,
		`{"success":true}`:                                         false,
		`{"success":false,"success":true}`:                         false,
		`[{"success":false}]`:                                      false,
		`not json "success":false`:                                 false,
		`{"success":false`:                                         false,
		``:                                                         false,
	} {
		if got := successFalse([]byte(body)); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}

// A large answer is read in one pass without allocating, whatever it nests
// (counted without the race detector, whose instrumentation allocates).
func TestSuccessFalseOnALargeAnswerAllocatesNothing(t *testing.T) {
	body := []byte(`{"items":[` + strings.Repeat(`{"success":true,"n":[1,2,{"x":"y"}]},`, 5000) + `{}],"success":false}`)
	if len(body) > maxDrain || !successFalse(body) {
		t.Fatalf("%d bytes: %v", len(body), successFalse(body))
	}
	if n := testing.AllocsPerRun(10, func() { successFalse(body) }); n != 0 && !raceEnabled {
		t.Fatalf("%v allocations", n)
	}
}
