package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Target is one of the targets, checked against this run.
type Target struct {
	Figure string `json:"figure"`
	Target string `json:"target"`
	Value  string `json:"value"`
	// Met is nil when the run has no figure for it.
	Met  *bool  `json:"met"`
	Note string `json:"note,omitempty"`
}

func find(run *Run, name string) *Result {
	for _, r := range run.Results {
		if r.Scenario == name {
			return r
		}
	}
	return nil
}

// targets compares the run with issue 6's table for its store, and with
// issue 14's bound on a profile's cost.
func targets(run *Run) []Target {
	pg := run.Store == "postgres"
	pick := func(sqlite, postgres float64) float64 {
		if pg {
			return postgres
		}
		return sqlite
	}
	var out []Target
	add := func(figure, target, value string, met *bool, note string) {
		out = append(out, Target{Figure: figure, Target: target, Value: value, Met: met, Note: note})
	}
	yes := func(b bool) *bool { return &b }
	ceiling, burst, steady, backlog, bad := find(run, "ceiling"), find(run, "burst"), find(run, "steady"), find(run, "backlog"), find(run, "badneighbour")
	usable := func(r *Result) bool { return r != nil && r.OK }

	out = append(out, singleTargets(run, ceiling)...)
	share := pick(0.50, 0.35)
	if usable(ceiling) && usable(burst) && ceiling.Throughput > 0 {
		v := burst.Throughput / ceiling.Throughput
		add("burst delivery throughput / ceiling", fmt.Sprintf("≥ %.0f %%", share*100),
			fmt.Sprintf("%.1f %% (%.0f / %.0f per s)", v*100, burst.Throughput, ceiling.Throughput), yes(v >= share), "")
	} else {
		add("burst delivery throughput / ceiling", fmt.Sprintf("≥ %.0f %%", share*100), "not measured", nil, "needs ceiling and burst")
	}
	cpu := pick(0.15, 0.25)
	if usable(burst) {
		add("Herald CPU per delivery (burst, ingest included)", fmt.Sprintf("≤ %.2f ms", cpu),
			fmt.Sprintf("%.3f ms", burst.CPUPerDeliveryMS), yes(burst.CPUPerDeliveryMS <= cpu), "")
	} else {
		add("Herald CPU per delivery (burst, ingest included)", fmt.Sprintf("≤ %.2f ms", cpu), "not measured", nil, "")
	}
	if usable(backlog) && backlog.Drain != nil {
		add("Herald CPU per delivery (backlog drain, no ingest)", fmt.Sprintf("≤ %.2f ms", cpu),
			fmt.Sprintf("%.3f ms", backlog.Drain.CPUPerItemMS), yes(backlog.Drain.CPUPerItemMS <= cpu), "for reference")
	}
	p99 := pick(25, 50)
	if usable(steady) {
		add("steady: p99 publish-to-arrival", fmt.Sprintf("≤ %.0f ms", p99),
			fmt.Sprintf("%.1f ms (%d events/s)", steady.Latency.P99, int(steady.Publish.Rate+0.5)), yes(steady.Latency.P99 <= p99), "")
	} else {
		add("steady: p99 publish-to-arrival", fmt.Sprintf("≤ %.0f ms", p99), "not measured", nil, "")
	}
	if usable(backlog) {
		note := ""
		if backlog.Events < 1_000_000 {
			note = fmt.Sprintf("backlog of %d, not 1,000,000", backlog.Events)
		}
		add("backlog: Herald peak RSS", "≤ 200 MB", fmt.Sprintf("%.0f MB", backlog.PeakRSSMB), yes(backlog.PeakRSSMB <= 200), note)
	} else {
		add("backlog: Herald peak RSS", "≤ 200 MB", "not measured", nil, "")
	}
	if usable(bad) {
		add("bad neighbour: healthy nine with / without", "≥ 90 %", fmt.Sprintf("%.1f %%", bad.Ratio*100), yes(bad.Ratio >= 0.9), "")
	} else {
		add("bad neighbour: healthy nine with / without", "≥ 90 %", "not measured", nil, "")
	}
	if o := find(run, "ordered"); usable(o) && o.Baseline != nil && o.Received != nil {
		note := ""
		if o.Jobs != 1000 {
			note = fmt.Sprintf("%d jobs, not 1,000", o.Jobs)
		}
		add("ordered by job, 30 % of requests failing: throughput / unordered, order kept", "≥ 50 %, 0 out of order",
			fmt.Sprintf("%.1f %% (%.0f / %.0f per s), %d out of order", o.Ratio*100, o.Throughput, o.Baseline.Throughput, o.Received.OutOfOrder),
			yes(o.Ratio >= 0.5 && o.Received.OutOfOrder == 0), note)
	}
	rate := pick(20_000, 10_000)
	if usable(burst) && burst.Publish != nil {
		note := ""
		if usable(backlog) && backlog.Publish != nil {
			note = fmt.Sprintf("one endpoint, paused (backlog): %.0f events/s", backlog.Publish.Rate)
		}
		add(fmt.Sprintf("batch publish, events accepted/s (burst: %d endpoints, delivering meanwhile)", burst.Endpoints),
			fmt.Sprintf("≥ %.0f", rate), fmt.Sprintf("%.0f", burst.Publish.Rate), yes(burst.Publish.Rate >= rate), note)
	} else {
		add("batch publish, events accepted/s", fmt.Sprintf("≥ %.0f", rate), "not measured", nil, "")
	}
	if s := find(run, "saturation"); usable(s) && s.Saturation != nil {
		sat := s.Saturation
		note := ""
		if sat.Clients != 200 || sat.LoadSeconds < 59 {
			note = fmt.Sprintf("%d clients for %.0f s, not 200 for 60 s", sat.Clients, sat.LoadSeconds)
		}
		add("saturation: delivery lag p99 (publish to arrival), nothing lost", "≤ 5 s, 0 lost",
			fmt.Sprintf("%.0f ms, %d lost (%.0f events/s accepted, %.0f %% delivered during the load)",
				s.Latency.P99, sat.Lost, sat.AcceptedRate, sat.DeliveredShare*100),
			yes(s.Latency.P99 <= 5000 && sat.Lost == 0), note)
	}
	if p := find(run, "profiles"); usable(p) && p.Profiles != nil && p.Profiles.Ratio > 0 {
		pr := p.Profiles
		add("Herald CPU per delivery, smart-kyc / standard (drain)", "≤ 1.5×",
			fmt.Sprintf("%.2f× (%.3f / %.3f ms)", pr.Ratio, pr.SmartKYCMS, pr.StandardMS), yes(pr.Ratio <= 1.5),
			fmt.Sprintf("medians of %d rounds each", len(pr.Standard)))
	}
	return out
}

// singleTargets compares single and single-steady with issue 16's targets
// for one event per call: a share of the ceiling, CPU per delivery (Herald
// alone on SQLite, Herald and PostgreSQL together on PostgreSQL), and the
// steady tail.
func singleTargets(run *Run, ceiling *Result) []Target {
	pg := run.Store == "postgres"
	single, steady := find(run, "single"), find(run, "single-steady")
	usable := func(r *Result) bool { return r != nil && r.OK }
	yes := func(b bool) *bool { return &b }
	cpuOf := func(r *Result) float64 {
		if pg {
			return r.CPUPerDeliveryMS + r.PostgresCPUPerDeliveryMS
		}
		return r.CPUPerDeliveryMS
	}
	share, cpu, p99, who := 0.35, 0.15, 25.0, "Herald"
	if pg {
		share, cpu, p99, who = 0.20, 0.5, 50, "Herald + PostgreSQL"
	}
	var out []Target
	shareFig := "single (one event per call, 32 publishers): delivery throughput / ceiling"
	switch {
	case usable(ceiling) && usable(single) && ceiling.Throughput > 0:
		v := single.Throughput / ceiling.Throughput
		out = append(out, Target{Figure: shareFig, Target: fmt.Sprintf("≥ %.0f %%", share*100),
			Value: fmt.Sprintf("%.1f %% (%.0f / %.0f per s)", v*100, single.Throughput, ceiling.Throughput), Met: yes(v >= share)})
	case usable(single):
		out = append(out, Target{Figure: shareFig, Target: fmt.Sprintf("≥ %.0f %%", share*100), Value: "not measured", Note: "needs ceiling and single"})
	}
	for _, r := range []*Result{single, steady} {
		if r == nil || r.Received == nil {
			continue
		}
		lost := max(0, r.Deliveries-r.Received.Unique)
		note := ""
		if c := r.Commits; c != nil && c.Events > 0 {
			note = fmt.Sprintf("%d events stored by %d commits (%.3f per event); %d WAL flushes server-wide meanwhile",
				c.Events, c.EventCommits, float64(c.EventCommits)/float64(c.Events), c.WALSyncs)
		}
		out = append(out, Target{Figure: r.Scenario + ": nothing lost, duplicates counted", Target: "0 lost",
			Value: fmt.Sprintf("%d lost, %d duplicates; publish → arrival p50 %.1f ms, p99 %.1f ms", lost, r.Received.Duplicates, r.Latency.P50, r.Latency.P99),
			Met:   yes(lost == 0), Note: note})
	}
	if usable(single) {
		v := cpuOf(single)
		value := fmt.Sprintf("%.3f ms", v)
		if pg {
			value += fmt.Sprintf(" (Herald %.3f, PostgreSQL %.3f)", single.CPUPerDeliveryMS, single.PostgresCPUPerDeliveryMS)
		}
		out = append(out, Target{Figure: "single: " + who + " CPU per delivery", Target: fmt.Sprintf("≤ %.2f ms", cpu),
			Value: value, Met: yes(v <= cpu)})
	}
	if usable(steady) {
		out = append(out, Target{Figure: "single-steady: p99 publish-to-arrival", Target: fmt.Sprintf("≤ %.0f ms", p99),
			Value: fmt.Sprintf("%.1f ms (%d events/s, %d endpoints)", steady.Latency.P99, int(steady.Publish.Rate+0.5), steady.Endpoints),
			Met:   yes(steady.Latency.P99 <= p99)})
		if usable(single) {
			v, burst := cpuOf(steady), cpuOf(single)
			out = append(out, Target{Figure: "single-steady: " + who + " CPU per delivery / single's", Target: "≤ 2×",
				Value: fmt.Sprintf("%.2f× (%.3f / %.3f ms)", v/burst, v, burst), Met: yes(v <= 2*burst)})
		}
	}
	return out
}

func oneLine(r *Result) string {
	if r == nil {
		return "no result"
	}
	s := fmt.Sprintf("%d deliveries, %.0f/s", r.Deliveries, r.Throughput)
	if r.Publish != nil {
		s += fmt.Sprintf(", publish %.0f events/s", r.Publish.Rate)
	}
	s += fmt.Sprintf(", p99 %.1f ms, Herald CPU %.1fs (%.3f ms/delivery), peak RSS %.0f MB", r.Latency.P99, r.CPU.Herald, r.CPUPerDeliveryMS, r.PeakRSSMB)
	if r.Ratio > 0 {
		s += fmt.Sprintf(", ratio %.1f %%", r.Ratio*100)
	}
	if !r.OK {
		s += " — FAILED: " + r.Error
	}
	return s
}

func mark(met *bool) string {
	switch {
	case met == nil:
		return "–"
	case *met:
		return "met"
	default:
		return "**missed**"
	}
}

// markdownTables is the summary printed at the end and put in the report.
func markdownTables(run *Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Targets (%s)\n\n", run.Store)
	b.WriteString("| figure | target | this run | |\n|---|---|---|---|\n")
	for _, t := range run.Targets {
		v := t.Value
		if t.Note != "" {
			v += " — " + t.Note
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Figure, t.Target, v, mark(t.Met))
	}
	fmt.Fprintf(&b, "\n### Scenarios (%s)\n\n", run.Store)
	b.WriteString("| scenario | events | deliveries | publish events/s | deliveries/s | drain s | latency p50 / p90 / p99 / max ms | Herald CPU s | CPU/delivery ms | PostgreSQL CPU/delivery ms | Herald peak RSS MB | machine busy | ok |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|\n")
	rows := []*Result{}
	for _, r := range run.Results {
		if r.Baseline != nil {
			rows = append(rows, r.Baseline)
		}
		rows = append(rows, r)
	}
	for _, r := range rows {
		pub, drain, rss, herald, pgPer := "–", "–", "–", "–", "–"
		if r.CPU.Postgres > 0 && r.Scenario != "ceiling" {
			pgPer = fmt.Sprintf("%.3f", r.PostgresCPUPerDeliveryMS)
		}
		if r.Publish != nil {
			pub = fmt.Sprintf("%.0f", r.Publish.Rate)
		}
		if r.DrainSeconds > 0 {
			drain = fmt.Sprintf("%.1f", r.DrainSeconds)
		}
		cpuPer := fmt.Sprintf("%.3f", r.CPUPerDeliveryMS)
		if r.Scenario == "ceiling" {
			cpuPer += " (client)"
		} else {
			rss = fmt.Sprintf("%.0f", r.PeakRSSMB)
			herald = fmt.Sprintf("%.1f", r.CPU.Herald)
		}
		lat := fmt.Sprintf("%.1f / %.1f / %.1f / %.0f", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
		if r.Drain != nil {
			lat = "– (held while paused)"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %.0f %% | %s |\n",
			r.Scenario, r.Events, r.Deliveries, pub, r.Throughput, drain, lat, herald, cpuPer, pgPer, rss, r.CPU.MachineBusy*100, okCell(r))
	}
	b.WriteString(ceilingUnits(run, rows))
	if p := find(run, "profiles"); p != nil && p.Profiles != nil {
		b.WriteString(profileTable(run.Store, p.Profiles))
	}
	if s := find(run, "saturation"); s != nil && s.Saturation != nil {
		b.WriteString(saturationTable(run.Store, s))
	}
	return b.String()
}

// ceilingUnits is each scenario's CPU per delivery in the units of the
// run's ceiling: its client's CPU per request. A faster or slower machine
// moves both alike, so these compare across runs where milliseconds do not
// (the ceiling's client cost 0.035 to 0.061 ms a request in runs of one
// day).
func ceilingUnits(run *Run, rows []*Result) string {
	c := find(run, "ceiling")
	if c == nil || !c.OK || c.CPUPerDeliveryMS <= 0 {
		return ""
	}
	var parts []string
	for _, r := range rows {
		if r.Scenario == "ceiling" || r.CPUPerDeliveryMS <= 0 {
			continue
		}
		p := fmt.Sprintf("%s %.1f", r.Scenario, r.CPUPerDeliveryMS/c.CPUPerDeliveryMS)
		if r.PostgresCPUPerDeliveryMS > 0 {
			p += fmt.Sprintf(" (%.1f with PostgreSQL's)", (r.CPUPerDeliveryMS+r.PostgresCPUPerDeliveryMS)/c.CPUPerDeliveryMS)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("\nHerald's CPU per delivery in ceiling requests (the ceiling's client spent %.3f ms a request; a faster or slower machine moves both alike, so these compare across runs): %s.\n",
		c.CPUPerDeliveryMS, strings.Join(parts, "; "))
}

func okCell(r *Result) string {
	if !r.OK {
		return "**no**: " + r.Error
	}
	return "yes"
}

// profileTable lists the profiles scenario's rounds in the order they ran.
func profileTable(store string, p *ProfileRounds) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Profiles: smart-kyc beside standard (%s)\n\n", store)
	b.WriteString("| round | profile | deliveries | drain deliveries/s | Herald CPU/delivery, drain ms | with the paused publish ms | machine busy (drain) | ok |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---|\n")
	p.each(func(round int, r *Result) {
		rate, perDrain, busy := "–", "–", "–"
		if d := r.Drain; d != nil {
			rate, perDrain = fmt.Sprintf("%.0f", d.Rate), fmt.Sprintf("%.4f", d.CPUPerItemMS)
			busy = fmt.Sprintf("%.0f %%", d.CPU.MachineBusy*100)
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %.4f | %s | %s |\n",
			round, strings.TrimPrefix(r.Scenario, "profiles-"), r.Deliveries, rate, perDrain, r.CPUPerDeliveryMS, busy, okCell(r))
	})
	pairs := make([]string, len(p.PairRatios))
	for i, v := range p.PairRatios {
		pairs[i] = fmt.Sprintf("%.2f×", v)
	}
	fmt.Fprintf(&b, "\nMedians over the drains: standard %.4f ms, smart-kyc %.4f ms per delivery; smart-kyc / standard **%.2f×** (round by round: %s).\n",
		p.StandardMS, p.SmartKYCMS, p.Ratio, strings.Join(pairs, ", "))
	return b.String()
}

// saturationTable is the saturation scenario's own figures.
func saturationTable(store string, r *Result) string {
	s := r.Saturation
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Saturation: %d API clients, %d event(s) per request (%s)\n\n", s.Clients, s.Batch, store)
	b.WriteString("| load s | accepted | accepted/s | refused | request p50 / p99 ms | delivered during the load | lag p50 / p99 ms during | after | overall | lost | duplicates | Herald cores | PostgreSQL cores | machine busy |\n")
	b.WriteString("|---:|---:|---:|---:|---|---:|---|---|---|---:|---:|---:|---:|---:|\n")
	dups := int64(0)
	if r.Received != nil {
		dups = r.Received.Duplicates
	}
	lag := func(p Percentiles) string {
		if p.N == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f / %.0f", p.P50, p.P99)
	}
	fmt.Fprintf(&b, "| %.1f | %d | %.0f | %d | %.1f / %.1f | %d (%.1f %%) | %s | %s | %s | %d | %d | %.2f | %.2f | %.0f %% |\n",
		s.LoadSeconds, s.Accepted, s.AcceptedRate, s.Refused, s.RequestLatency.P50, s.RequestLatency.P99,
		s.DeliveredDuringLoad, s.DeliveredShare*100, lag(s.LagDuring), lag(s.LagAfter), lag(r.Latency),
		s.Lost, dups, s.HeraldCores, s.PostgresCores, s.CPULoad.MachineBusy*100)
	return b.String()
}

// markdownReport is the full Markdown file of a run.
func markdownReport(run *Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Herald load harness: %s, %s\n\n", run.Store, run.Started)
	dirty := ""
	if run.Dirty {
		dirty = " with uncommitted changes"
	}
	fmt.Fprintf(&b, "- command: `%s`\n- commit: %s%s\n- store: %s\n- scale: %g", run.Command, run.Commit, dirty, run.Database, run.Scale)
	if run.Jobs {
		b.WriteString(" (every event with its own job)")
	}
	m := run.Machine
	fmt.Fprintf(&b, "\n- machine: %d CPUs, %s, %d MB memory, Linux %s, %s", m.CPUs, m.CPUModel, m.MemoryMB, m.Kernel, m.GoVersion)
	if m.Postgres != "" {
		fmt.Fprintf(&b, ", %s on the same machine", m.Postgres)
	}
	fmt.Fprintf(&b, "\n- took %.0f s\n\n", run.Seconds)
	b.WriteString(markdownTables(run))
	b.WriteString("\n### Details\n\n")
	for _, r := range run.Results {
		fmt.Fprintf(&b, "**%s**: ", r.Scenario)
		b.WriteString(detail(r))
		if r.Baseline != nil {
			b.WriteString(" Baseline (without the bad endpoint): " + detail(r.Baseline))
		}
		b.WriteString("\n\n")
		if p := r.Profiles; p != nil {
			p.each(func(round int, r *Result) {
				fmt.Fprintf(&b, "- %s, round %d: %s\n", r.Scenario, round, detail(r))
			})
			b.WriteString("\n")
		}
	}
	return b.String()
}

func detail(r *Result) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%d endpoints × max_concurrency %d", r.Endpoints, r.Concurrency))
	if r.Publish != nil {
		parts = append(parts, fmt.Sprintf("published %d events in %d requests over %.1f s (%.0f events/s; request latency p50 %.1f ms, p99 %.1f ms)",
			r.Publish.Events, r.Publish.Requests, r.Publish.Seconds, r.Publish.Rate, r.Publish.Latency.P50, r.Publish.Latency.P99))
	}
	if r.Received != nil {
		rc := r.Received
		parts = append(parts, fmt.Sprintf("receiver: %d unique of %d expected, %d requests, %d duplicates, %d signatures sampled (%d failed), %d never-answered requests",
			rc.Unique, r.Deliveries, rc.Requests, rc.Duplicates, rc.SigChecked, rc.SigFailed, rc.Hangs))
		if rc.SmartKYCRequests > 0 {
			parts = append(parts, fmt.Sprintf("%d requests to the smart-kyc endpoint, %d of them verified by Smart KYC's recipe", rc.SmartKYCRequests, rc.SmartKYCChecked))
		}
	}
	parts = append(parts, fmt.Sprintf("arrival window %.1f s", r.WindowSeconds))
	if r.AfterPublishSeconds > 0 {
		parts = append(parts, fmt.Sprintf("last arrival %.1f s after the last publish", r.AfterPublishSeconds))
	}
	c := r.CPU
	cpu := fmt.Sprintf("CPU over %.1f s: Herald %.1f s, receiver %.1f s, publisher %.1f s", c.Wall, c.Herald, c.Receiver, c.Publisher)
	if c.Postgres > 0 {
		cpu += fmt.Sprintf(", PostgreSQL %.1f s", c.Postgres)
	}
	cpu += fmt.Sprintf(", other processes %.1f s, stolen by the hypervisor %.1f s; machine %.0f %% busy (steal included)", c.Others, c.Steal, c.MachineBusy*100)
	parts = append(parts, cpu)
	if r.Scenario != "ceiling" {
		parts = append(parts, fmt.Sprintf("Herald peak RSS %.0f MB (VmHWM), %.0f MB sampled", r.PeakRSSMB, r.SampledPeakRSSMB))
	}
	if r.Ingest != nil {
		parts = append(parts, fmt.Sprintf("ingest (paused): %.0f events/s, Herald %.3f ms CPU per event, peak RSS %.0f MB",
			r.Ingest.Rate, r.Ingest.CPUPerItemMS, r.Ingest.PeakRSSMB))
	}
	if r.Drain != nil {
		exact := "VmHWM reset at the resume"
		if !r.Drain.PeakRSSExact {
			exact = "sampled"
		}
		parts = append(parts, fmt.Sprintf("drain: %.1f s, %.0f deliveries/s, Herald %.3f ms CPU per delivery, peak RSS %.0f MB (%s)",
			r.Drain.Seconds, r.Drain.Rate, r.Drain.CPUPerItemMS, r.Drain.PeakRSSMB, exact))
	}
	if r.Ratio > 0 {
		parts = append(parts, fmt.Sprintf("healthy throughput %.1f %% of the baseline", r.Ratio*100))
	}
	if r.HeraldWarnings+r.HeraldErrors > 0 {
		s := fmt.Sprintf("Herald logged %d warnings, %d errors", r.HeraldWarnings, r.HeraldErrors)
		if r.HeraldLastErr != "" {
			s += " (last: `" + truncate(r.HeraldLastErr, 200) + "`)"
		}
		parts = append(parts, s)
	}
	if r.Profile != "" {
		parts = append(parts, "CPU profile: "+filepath.Base(r.Profile))
	}
	parts = append(parts, r.Notes...)
	if !r.OK {
		parts = append(parts, "FAILED: "+r.Error)
	}
	return strings.Join(parts, "; ") + "."
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// writeResults writes <stamp>-<store>.json and .md, and latest-<store>.md.
func writeResults(dir, stamp string, run *Run) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, stamp+"-"+run.Store)
	raw, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return nil, err
	}
	md := markdownReport(run)
	files := []string{base + ".json", base + ".md", filepath.Join(dir, "latest-"+run.Store+".md")}
	for i, content := range [][]byte{raw, []byte(md), []byte(md)} {
		if err := os.WriteFile(files[i], content, 0o644); err != nil {
			return nil, err
		}
	}
	return files, nil
}
