package main

import (
	"strings"
	"testing"
)

func TestCeilingUnitsDivideEachScenariosCPUByTheCeilingClients(t *testing.T) {
	run := &Run{Store: "postgres", Results: []*Result{
		{Scenario: "ceiling", OK: true, CPUPerDeliveryMS: 0.040},
		{Scenario: "single", OK: true, CPUPerDeliveryMS: 0.200, PostgresCPUPerDeliveryMS: 0.080},
		{Scenario: "burst", OK: true, CPUPerDeliveryMS: 0.100},
	}}
	got := ceilingUnits(run, run.Results)
	for _, want := range []string{"0.040 ms a request", "single 5.0 (7.0 with PostgreSQL's)", "burst 2.5."} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if !strings.Contains(markdownTables(run), got) {
		t.Error("the report's tables leave the ceiling units out")
	}
	run.Results[0].OK = false
	if got := ceilingUnits(run, run.Results); got != "" {
		t.Errorf("a failed ceiling still gave units: %q", got)
	}
}
