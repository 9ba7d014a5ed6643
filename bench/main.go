// Command bench is Herald's load harness: `go run ./bench` builds Herald,
// starts it on a fresh database for each scenario, drives it with a
// publisher (this process) and a receiver (this binary again, in its own
// process), and reports throughput, latency, CPU and memory. See
// docs/performance.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// allScenarios in the order they run.
var allScenarios = []string{"ceiling", "single", "single-steady", "burst", "steady", "backlog", "badneighbour", "profiles", "saturation", "hostile", "slowbody", "ordered", "ratelimit"}

type config struct {
	scenarios         []string
	scale             float64
	database          string
	heraldBin         string
	rev               string
	outDir            string
	endpoints         int
	concurrency       int
	publishers        int
	batch             int
	burstEvents       int
	steadyRate        int
	steadyDuration    time.Duration
	steadyEndpoints   int
	backlogDeliveries int
	badEvents         int
	badTimeout        time.Duration
	ceilingRequests   int
	profilesEvents    int
	profilesRounds    int
	profiles          map[string]bool
	profileSeconds    int
	shape             eventShape
	keep              bool
	waitIdle          time.Duration
	write             bool
	hostileClients    int
	hostileFor        time.Duration
	slowConnections   int
	// saturation: clients publishing as fast as answered, for a while.
	saturationClients   int
	saturationBatch     int
	saturationDuration  time.Duration
	saturationEndpoints int
	// single: one event per call, the shape platforms publish in.
	singleEvents          int
	singlePublishers      int
	singleSteadyRate      int
	singleSteadyEndpoints int
	// ordered: jobs of orderedSteps events each to a receiver that fails
	// orderedFailPercent of requests, ordered by job and not.
	orderedJobs        int
	orderedSteps       int
	orderedFailPercent int
	// ratelimit: how long an endpoint's rate limit is measured.
	rateLimitDuration time.Duration
}

// count scales a base count, never below floor.
func (c config) count(base, floor int) int {
	return max(floor, int(math.Round(float64(base)*c.scale)))
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	scenarios := fs.String("scenario", strings.Join(allScenarios, ","), "Scenarios to run, comma-separated: "+strings.Join(allScenarios, ", ")+".")
	fs.Float64Var(&c.scale, "scale", 1, "Multiply every count (and the steady duration) by this, e.g. 0.05 for a quick run.")
	fs.StringVar(&c.database, "database", "", "A postgres:// URL to run on PostgreSQL (each scenario gets a fresh schema, dropped after); SQLite in a temporary file when empty.")
	fs.StringVar(&c.heraldBin, "herald", "", "A Herald binary to run instead of building ./cmd/herald.")
	fs.StringVar(&c.rev, "rev", "", "Build Herald from this commit (git archive) instead of the working tree.")
	fs.StringVar(&c.outDir, "out", "", "Where results go (default bench/results in the module).")
	fs.IntVar(&c.endpoints, "endpoints", 10, "Endpoints of burst and bad neighbour (the ceiling drives as many receiver ports).")
	fs.IntVar(&c.concurrency, "concurrency", 64, "Each endpoint's max_concurrency; the ceiling uses endpoints × this many connections.")
	fs.IntVar(&c.publishers, "publishers", 4, "Concurrent batch publishers.")
	fs.IntVar(&c.batch, "batch", 1000, "Events per POST /v1/events/batch.")
	fs.IntVar(&c.burstEvents, "burst-events", 200_000, "Events of the burst (each goes to every endpoint).")
	fs.IntVar(&c.steadyRate, "steady-rate", 1000, "Events a second in steady (not scaled).")
	fs.DurationVar(&c.steadyDuration, "steady-duration", 60*time.Second, "Duration of steady (scaled; at least 2 s).")
	fs.IntVar(&c.steadyEndpoints, "steady-endpoints", 1, "Endpoints of steady.")
	fs.IntVar(&c.backlogDeliveries, "backlog", 1_000_000, "Deliveries queued behind the paused endpoint.")
	fs.IntVar(&c.badEvents, "bad-events", 20_000, "Events of bad neighbour (each to every endpoint).")
	fs.DurationVar(&c.badTimeout, "bad-timeout", 2*time.Second, "timeout_ms of the endpoint that never answers.")
	fs.IntVar(&c.ceilingRequests, "ceiling-requests", 400_000, "Requests of the ceiling run.")
	fs.IntVar(&c.profilesEvents, "profiles-events", 100_000, "Events of profiles: each to both endpoints side by side, then to the one endpoint of each round.")
	fs.IntVar(&c.profilesRounds, "profiles-rounds", 3, "Rounds of profiles, each a standard run then a smart-kyc run.")
	fs.IntVar(&c.saturationClients, "saturation-clients", 200, "Concurrent API clients of saturation, each publishing as soon as its last request is answered (not scaled).")
	fs.IntVar(&c.saturationBatch, "saturation-batch", 1, "Events per request in saturation: 1 sends POST /v1/events, more POST /v1/events/batch.")
	fs.DurationVar(&c.saturationDuration, "saturation-duration", 60*time.Second, "How long saturation publishes (scaled; at least 2 s).")
	fs.IntVar(&c.saturationEndpoints, "saturation-endpoints", 1, "Endpoints of saturation (each event goes to every one).")
	fs.IntVar(&c.singleEvents, "single-events", 50_000, "Events of single, each published alone through POST /v1/events to one endpoint.")
	fs.IntVar(&c.singlePublishers, "single-publishers", 32, "Concurrent publishers of single, each publishing as soon as its last event is answered (not scaled).")
	fs.IntVar(&c.singleSteadyRate, "single-steady-rate", 500, "Events a second in single-steady (not scaled; it runs for the steady duration).")
	fs.IntVar(&c.singleSteadyEndpoints, "single-steady-endpoints", 2, "Endpoints of single-steady.")
	fs.IntVar(&c.orderedJobs, "ordered-jobs", 1000, "Jobs of ordered, each of ordered-steps events, to one endpoint ordered by job and then to one that is not.")
	fs.IntVar(&c.orderedSteps, "ordered-steps", 5, "Events per job in ordered (not scaled; 1..64).")
	fs.IntVar(&c.orderedFailPercent, "ordered-fail", 30, "Percentage of requests the receiver of ordered fails at random (not scaled).")
	fs.DurationVar(&c.rateLimitDuration, "ratelimit-duration", 30*time.Second, "How long ratelimit measures an endpoint's rate_limit of 50 a second (scaled; at least 3 s).")
	profiles := fs.String("profile", "", "Take a CPU profile of Herald (via its --pprof-listen) in these scenarios: single, single-steady, burst, steady, backlog (the drain), badneighbour, profiles (the drains of the first round), saturation.")
	fs.IntVar(&c.profileSeconds, "profile-seconds", 30, "Length of each CPU profile, from the start of publishing (backlog: of the drain).")
	fs.BoolVar(&c.shape.Jobs, "jobs", false, "Give every event its own job (a job upsert per event).")
	fs.BoolVar(&c.keep, "keep", false, "Keep the temporary directory (databases, Herald's logs).")
	fs.DurationVar(&c.waitIdle, "wait-idle", time.Minute, "Before each scenario, wait up to this long for the machine to be idle (under 15 % busy); the report notes when it was not.")
	fs.BoolVar(&c.write, "write", true, "Write JSON and Markdown results.")
	fs.IntVar(&c.hostileClients, "hostile-clients", 200, "Clients of hostile, each publishing one batch of 15 MiB at once (scaled, at least 8).")
	fs.DurationVar(&c.hostileFor, "hostile-for", 60*time.Second, "How long hostile's clients send their refused batches again.")
	fs.IntVar(&c.slowConnections, "slow-connections", 2000, "Connections of slowbody, each trickling a sign-in form (scaled, at least 16).")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	known := map[string]bool{}
	for _, s := range allScenarios {
		known[s] = true
	}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "all" {
			c.scenarios = append(c.scenarios, allScenarios...)
			continue
		}
		if !known[s] {
			return c, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
		c.scenarios = append(c.scenarios, s)
	}
	c.profiles = map[string]bool{}
	for _, s := range strings.Split(*profiles, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.profiles[s] = true
		}
	}
	switch {
	case c.scale <= 0:
		return c, errors.New("-scale must be positive")
	case c.endpoints < 2:
		return c, errors.New("-endpoints must be at least 2 (bad neighbour needs a healthy one)")
	case c.concurrency < 1 || c.concurrency > 256:
		return c, errors.New("-concurrency must be 1..256 (Herald's max_concurrency range)")
	case c.batch < 1 || c.batch > 1000:
		return c, errors.New("-batch must be 1..1000")
	case c.publishers < 1:
		return c, errors.New("-publishers must be at least 1")
	case c.steadyRate < 1:
		return c, errors.New("-steady-rate must be positive")
	case c.profilesRounds < 1:
		return c, errors.New("-profiles-rounds must be at least 1")
	case c.saturationClients < 1:
		return c, errors.New("-saturation-clients must be at least 1")
	case c.saturationBatch < 1 || c.saturationBatch > 1000:
		return c, errors.New("-saturation-batch must be 1..1000")
	case c.singlePublishers < 1:
		return c, errors.New("-single-publishers must be at least 1")
	case c.singleSteadyRate < 1:
		return c, errors.New("-single-steady-rate must be positive")
	case c.singleSteadyEndpoints < 1:
		return c, errors.New("-single-steady-endpoints must be at least 1")
	case c.saturationEndpoints < 1:
		return c, errors.New("-saturation-endpoints must be at least 1")
	case c.orderedSteps < 1 || c.orderedSteps > 64 || c.orderedSteps > c.batch:
		return c, errors.New("-ordered-steps must be 1..64, and at most -batch")
	case c.orderedFailPercent < 0 || c.orderedFailPercent > 90:
		return c, errors.New("-ordered-fail must be 0..90")
	}
	c.hostileClients = c.count(c.hostileClients, 8)
	c.slowConnections = c.count(c.slowConnections, 16)
	if c.database != "" && !isPostgres(c.database) {
		return c, errors.New("-database takes a postgres:// URL; SQLite runs on a temporary file")
	}
	return c, nil
}

func main() {
	if os.Getenv(roleEnv) == "receiver" || (len(os.Args) > 1 && os.Args[1] == "receiver") {
		fs := flag.NewFlagSet("receiver", flag.ExitOnError)
		ports := fs.Int("ports", 10, "hook ports")
		args := os.Args[1:]
		if len(args) > 0 && args[0] == "receiver" {
			args = args[1:]
		}
		_ = fs.Parse(args)
		if err := runReceiver(*ports); err != nil {
			fmt.Fprintln(os.Stderr, "receiver:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run, err := execute(ctx, cfg, func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
	if run != nil {
		fmt.Println(markdownTables(run))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	for _, r := range run.Results {
		if !r.OK {
			os.Exit(1)
		}
	}
}

// Run is one invocation of the harness on one store.
type Run struct {
	Started  string    `json:"started"`
	Store    string    `json:"store"`
	Database string    `json:"database"`
	Command  string    `json:"command"`
	Commit   string    `json:"commit"`
	Dirty    bool      `json:"dirty"`
	Scale    float64   `json:"scale"`
	Jobs     bool      `json:"jobs"`
	Machine  Machine   `json:"machine"`
	Seconds  float64   `json:"seconds"`
	Results  []*Result `json:"results"`
	Targets  []Target  `json:"targets"`
	Files    []string  `json:"-"`
}

// execute runs the chosen scenarios and writes the results.
func execute(ctx context.Context, cfg config, logf func(string, ...any)) (*Run, error) {
	began := time.Now()
	store := "sqlite"
	dbDesc := "a new SQLite file per scenario, in a temporary directory"
	if cfg.database != "" {
		store = "postgres"
		u, _ := url.Parse(cfg.database)
		dbDesc = u.Redacted() + " (a new schema per scenario)"
	}
	run := &Run{
		Started: began.UTC().Format(time.RFC3339), Store: store, Database: dbDesc,
		Command: "go run ./bench " + strings.Join(os.Args[1:], " "), Scale: cfg.scale, Jobs: cfg.shape.Jobs,
		Machine: describeMachine(),
	}
	if os.Getenv(roleEnv) != "" || strings.HasSuffix(os.Args[0], ".test") {
		run.Command = "(test)"
	}
	if cfg.database != "" {
		run.Machine.Postgres = pgVersion(ctx, cfg.database)
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	run.Commit, run.Dirty = gitState(root, cfg.rev)
	if cfg.outDir == "" {
		cfg.outDir = filepath.Join(root, "bench", "results")
	}
	tmp, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := cfg.heraldBin
	if bin == "" {
		what := "the working tree"
		if cfg.rev != "" {
			what = cfg.rev
		}
		logf("building ./cmd/herald of %s", what)
		if bin, err = buildHerald(tmp, cfg.rev); err != nil {
			return nil, err
		}
	}
	rc, err := startReceiver(max(cfg.endpoints, cfg.steadyEndpoints, cfg.saturationEndpoints, cfg.singleSteadyEndpoints))
	if err != nil {
		return nil, err
	}
	defer rc.stop()
	r := &runner{cfg: cfg, bin: bin, tmp: tmp, rc: rc, store: store, logf: logf, outDir: cfg.outDir,
		stamp: began.UTC().Format("20060102T150405Z"), machine: run.Machine}
	for _, name := range cfg.scenarios {
		if ctx.Err() != nil {
			break
		}
		busy := waitIdle(cfg.waitIdle)
		logf("%s on %s…", name, store)
		t0 := time.Now()
		var res *Result
		switch name {
		case "ceiling":
			res = r.ceiling(ctx)
		case "burst":
			res = r.burst(ctx)
		case "single":
			res = r.single(ctx)
		case "single-steady":
			res = r.singleSteady(ctx)
		case "steady":
			res = r.steady(ctx)
		case "backlog":
			res = r.backlog(ctx)
		case "badneighbour":
			res = r.badNeighbour(ctx)
		case "profiles":
			res = r.profiles(ctx)
		case "hostile":
			res = r.hostile(ctx)
		case "slowbody":
			res = r.slowBody(ctx)
		case "saturation":
			res = r.saturation(ctx)
		case "ordered":
			res = r.ordered(ctx)
		case "ratelimit":
			res = r.rateLimit(ctx)
		}
		if busy != "" {
			res.Notes = append(res.Notes, busy)
		}
		logf("  %s in %.1fs: %s", name, time.Since(t0).Seconds(), oneLine(res))
		run.Results = append(run.Results, res)
	}
	run.Seconds = time.Since(began).Seconds()
	run.Targets = targets(run)
	if cfg.write {
		files, err := writeResults(cfg.outDir, r.stamp, run)
		if err != nil {
			return run, err
		}
		run.Files = files
		for _, f := range files {
			logf("wrote %s", f)
		}
	}
	return run, ctx.Err()
}

// waitIdle waits up to wait for a second in which the machine is under
// 15 % busy, and returns a note for the report when it was not; with no
// wait it measures nothing.
func waitIdle(wait time.Duration) string {
	if busy := machineBusy(wait); busy > 0.15 {
		return fmt.Sprintf("the machine was %.0f %% busy just before the scenario started (other processes)", busy*100)
	}
	return ""
}

// machineBusy is the busy share of the last second waitIdle measured.
func machineBusy(wait time.Duration) float64 {
	if wait <= 0 {
		return 0
	}
	deadline := time.Now().Add(wait)
	for {
		b0, _, t0 := systemCPU()
		time.Sleep(time.Second)
		b1, _, t1 := systemCPU()
		busy := 0.0
		if t1 > t0 {
			busy = (b1 - b0) / (t1 - t0)
		}
		if busy < 0.15 || time.Now().After(deadline) {
			return busy
		}
	}
}

// gitState names the commit measured and whether the working tree it was
// built from had changes.
func gitState(root, rev string) (string, bool) {
	if rev != "" {
		out, _ := exec.Command("git", "-C", root, "rev-parse", "--short", rev).Output()
		return strings.TrimSpace(string(out)), false
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "", false
	}
	st, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(st))) > 0
}
