package transform

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// newPool is a pool for a test, closed when it ends. Its workers are this
// test binary run again: the package's init serves as the worker.
func newPool(t testing.TB, cfg PoolConfig) *Pool {
	t.Helper()
	p := NewPool(cfg)
	t.Cleanup(func() { p.Close() })
	return p
}

func runErr(t *testing.T, p *Pool, src string) *Error {
	t.Helper()
	_, err := p.Run(context.Background(), src, []byte(envelope))
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("Run(%q) = %v, want a failed transform", src, err)
	}
	return te
}

func TestPoolRunsProgramsInWorkerProcessesAsRunDoes(t *testing.T) {
	p := newPool(t, PoolConfig{Limits: Limits{Timeout: 10 * time.Second}})
	src := `. as $e | ` + smartKYC + ` | .data.params = $e.job.partner_params`
	want, err := mustCompile(t, src).Run(context.Background(), []byte(envelope))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				got, err := p.Run(context.Background(), src, []byte(envelope))
				if err != nil || string(got) != string(want) {
					t.Errorf("pool run: %s, %v\nwant %s", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if te := runErr(t, p, ".job.partner_params[]"); te.Reason != ReasonManyOutputs {
		t.Errorf("reason %s, want many_outputs", te.Reason)
	}
	if te := runErr(t, p, `error("no thanks")`+" // 1"); te.Reason != ReasonRuntime || te.Msg != "no thanks" {
		t.Errorf("error(…) came back as %v", te)
	}
	if _, err := p.Run(context.Background(), ".", []byte("{")); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("a broken envelope: %v, want an error that is not the program's", err)
	}
	p.mu.Lock()
	live := p.live
	p.mu.Unlock()
	if live > DefaultWorkers {
		t.Errorf("%d workers, over the default of %d", live, DefaultWorkers)
	}
}

func TestPoolKillsAWorkerPastItsTimeLimitAndStartsAnother(t *testing.T) {
	p := newPool(t, PoolConfig{Workers: 1, Limits: Limits{Timeout: 100 * time.Millisecond}})
	for _, src := range []string{"def f: f; f", "last(repeat(1))", `"x" * 1e9 | length`} {
		start := time.Now()
		te := runErr(t, p, src)
		// "x" * 1e9 is one step of seconds: the worker cannot stop it, the
		// pool kills it at the limit and the grace (or its memory limit
		// ends it first).
		if te.Reason != ReasonTimeout && !(strings.HasPrefix(src, `"x"`) && te.Reason == ReasonMemoryLimit) {
			t.Errorf("Run(%q): %v, want a timeout", src, te)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Run(%q) took %v", src, took)
		}
		if body, err := p.Run(context.Background(), ".id", []byte(envelope)); err != nil || string(body) != `"evt_01"` {
			t.Fatalf("the run after %q: %s, %v", src, body, err)
		}
	}
}

func TestPoolRefusesAnOversizedOutput(t *testing.T) {
	p := newPool(t, PoolConfig{Limits: Limits{MaxOutput: 1000, Timeout: 10 * time.Second}})
	if te := runErr(t, p, `"y" * 5000`); te.Reason != ReasonOutputTooLarge {
		t.Errorf("reason %s, want output_too_large", te.Reason)
	}
}

// The memory bombs end with memory_limit in their worker, while the server's
// own memory stays where it was and another worker keeps answering.
func TestPoolBoundsAProgramsMemoryInItsWorkerAndKeepsServing(t *testing.T) {
	if !canWatchMemory {
		t.Skip("no /proc on this system: the pool cannot watch a worker's memory")
	}
	const memory = 64 << 20
	p := newPool(t, PoolConfig{Workers: 2, Memory: memory, Limits: Limits{Timeout: 20 * time.Second}})
	// Warm both workers and this process.
	for range 2 {
		if _, err := p.Run(context.Background(), ".", []byte(envelope)); err != nil {
			t.Fatal(err)
		}
	}
	before := residentBytes(os.Getpid())
	stop := make(chan struct{})
	var served, failed int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			body, err := p.Run(context.Background(), ".type", []byte(envelope))
			if err != nil || string(body) != `"verification.completed"` {
				failed++
			} else {
				served++
			}
		}
	})
	var peak int64
	for _, src := range []string{`"x" * 1e9 | length`, `[range(1e9)] | length`, `reduce range(40) as $i ("x"; . + .) | length`} {
		done := make(chan *Error)
		go func() { done <- runErr(t, p, src) }()
		var te *Error
		for te == nil {
			select {
			case te = <-done:
			case <-time.After(10 * time.Millisecond):
				peak = max(peak, residentBytes(os.Getpid()))
			}
		}
		if te.Reason != ReasonMemoryLimit {
			t.Errorf("Run(%q): %v, want memory_limit", src, te)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("this process: %d MiB resident before, %d MiB at most while the bombs ran; %d other runs served meanwhile",
		before>>20, peak>>20, served)
	if peak-before > 32<<20 {
		t.Errorf("this process grew by %d MiB while the workers ran the bombs", (peak-before)>>20)
	}
	if served == 0 || failed > 0 {
		t.Errorf("beside the bombs: %d runs served, %d failed", served, failed)
	}
}

func TestPoolWaitForAWorkerEndsWithTheCallersContext(t *testing.T) {
	p := newPool(t, PoolConfig{Workers: 1, Limits: Limits{Timeout: 3 * time.Second}})
	busy := make(chan struct{})
	go func() {
		close(busy)
		p.Run(context.Background(), "def f: f; f", []byte(envelope))
	}()
	<-busy
	time.Sleep(200 * time.Millisecond) // let it take the one worker
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Run(ctx, ".", []byte(envelope))
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*Error)) {
		t.Errorf("Run while the one worker is busy = %v, want the context's deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the wait took %v with a context of 100ms", took)
	}
}

func TestPoolReportsAWorkerThatCannotStart(t *testing.T) {
	p := newPool(t, PoolConfig{Workers: 2, Command: func() *exec.Cmd { return exec.Command("/bin/false") }})
	for range 3 {
		_, err := p.Run(context.Background(), ".", []byte(envelope))
		if err == nil || !strings.Contains(err.Error(), "did not start") {
			t.Errorf("Run with a worker that exits at once = %v", err)
		}
	}
	// Each failed start gave its slot back, once.
	p.mu.Lock()
	live, all := p.live, len(p.all)
	p.mu.Unlock()
	if live != 0 || all != 0 {
		t.Errorf("after failed starts: %d slots taken, %d workers known; want none", live, all)
	}
	p.Close()
	if _, err := p.Run(context.Background(), ".", []byte(envelope)); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

// BenchmarkPoolRun is BenchmarkRun through a worker process: the difference
// is what running out of process costs per run.
func BenchmarkPoolRun(b *testing.B) {
	p := newPool(b, PoolConfig{Workers: 1, Limits: Limits{Timeout: 10 * time.Second}})
	in := []byte(envelope)
	if _, err := p.Run(context.Background(), smartKYC, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(context.Background(), smartKYC, in); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzPoolRun sends any envelope through a worker: the answer is Run's
// (the same body, or a failure of the same reason), whatever the bytes.
func FuzzPoolRun(f *testing.F) {
	p := newPool(f, PoolConfig{Workers: 1, Limits: Limits{Timeout: 2 * time.Second, MaxOutput: 4 << 10}})
	prog := mustCompile(f, `.. |= (if type == "string" then . + . else . end)`).WithLimits(Limits{Timeout: 2 * time.Second, MaxOutput: 4 << 10})
	for _, s := range []string{envelope, "{}", "[]", "1.50", `"<&>"`, "", "{", `{} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := prog.Run(context.Background(), in)
		got, err := p.Run(context.Background(), prog.Source(), in)
		var we, ge *Error
		switch {
		case wantErr == nil:
			if err != nil || string(got) != string(want) {
				t.Fatalf("pool %q, %v; in process %q", got, err, want)
			}
		case errors.As(wantErr, &we):
			if !errors.As(err, &ge) || ge.Reason != we.Reason {
				t.Fatalf("pool %v; in process %v", err, wantErr)
			}
		default:
			if err == nil || errors.As(err, &ge) {
				t.Fatalf("pool %q, %v; in process %v", got, err, wantErr)
			}
		}
	})
}

// A worker that something else kills mid-run (the kernel's out-of-memory
// killer sends SIGKILL) fails the run with memory_limit, and the next run
// gets a new worker.
func TestPoolTakesAWorkerKilledFromOutsideForOutOfMemory(t *testing.T) {
	p := newPool(t, PoolConfig{Workers: 1, Limits: Limits{Timeout: 10 * time.Second}})
	if _, err := p.Run(context.Background(), ".", []byte(envelope)); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	var w *worker
	for w = range p.all {
	}
	p.mu.Unlock()
	go func() {
		time.Sleep(200 * time.Millisecond)
		w.cmd.Process.Kill()
	}()
	if te := runErr(t, p, "def f: f; f"); te.Reason != ReasonMemoryLimit {
		t.Errorf("a worker killed from outside: %v, want memory_limit", te)
	}
	if body, err := p.Run(context.Background(), ".id", []byte(envelope)); err != nil || string(body) != `"evt_01"` {
		t.Errorf("the run after: %s, %v", body, err)
	}
}

// The last words of a worker that ran out of memory, as death reports them,
// are told from those of a program that failed otherwise.
func TestAWorkersDeathIsOutOfMemoryOnlyWhenItsLastWordsSaySo(t *testing.T) {
	for death, want := range map[string]bool{
		"ended (exit status 2): fatal error: out of memory":                                  true,
		"ended (signal: killed)":                                                             true,
		"ended (exit status 2): runtime: goroutine stack exceeds 16777216-byte limit":        true,
		"ended (exit status 2): SIGSEGV: segmentation violation":                             true, // the collector's fault under the hard limit
		"ended (exit status 2): panic: runtime error: invalid memory address or nil pointer": false,
		"ended (exit status 2): transform worker: a frame of 2000000 bytes":                  false,
		"exited": false,
	} {
		if got := outOfMemory(death); got != want {
			t.Errorf("outOfMemory(%q) = %v, want %v", death, got, want)
		}
	}
}
