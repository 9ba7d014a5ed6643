package transform

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pool defaults. Two workers keep a transform's CPU to a core's worth on a
// small machine; 256 MiB is hundreds of times what reshaping a 1 MiB
// envelope needs, and caps what a runaway program costs at that per worker.
const (
	DefaultWorkers = 2
	DefaultMemory  = 256 << 20
	// DefaultGrace is how long past its time limit a run may take before
	// its worker is killed: gojq checks the deadline only between steps,
	// and one step (a string repeat, say) can take seconds.
	DefaultGrace = 100 * time.Millisecond
)

// memorySlack is what a worker may hold beyond its limit before the pool's
// watch kills it: the runtime, the compiled programs, the frame buffers.
const memorySlack = 64 << 20

// canWatchMemory says whether this system shows a process's resident size.
var canWatchMemory = residentBytes(os.Getpid()) > 0

// memoryPoll is how often the pool looks at a busy worker's resident size.
// Runs are mostly well under it, so most never look at all.
const memoryPoll = 5 * time.Millisecond

// PoolConfig sets up a Pool; zero values take the defaults.
type PoolConfig struct {
	// Workers is how many worker processes run programs, each one at a
	// time: the most runs at once. Callers beyond it wait.
	Workers int
	// Memory is each worker's memory limit in bytes.
	Memory int64
	// Limits are each run's time and output limits.
	Limits Limits
	// Grace is how long past Limits.Timeout a worker may take before it is
	// killed.
	Grace  time.Duration
	Logger *slog.Logger
	// Command, when set, makes a worker's command instead of running this
	// binary again (tests of a broken worker).
	Command func() *exec.Cmd
}

func (c *PoolConfig) defaults() {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Memory <= 0 {
		c.Memory = DefaultMemory
	}
	c.Limits = c.Limits.withDefaults()
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Pool runs programs in a few long-lived worker processes, so that no
// program can take the server's memory: gojq checks its time limit only
// between evaluation steps, and one step can allocate gigabytes. Each worker
// caches compiled programs by hash, sets its own memory limit and time
// limit; the pool kills a worker that overruns its time (plus Grace) or
// memory, or that dies, and starts another on demand. It is safe for
// concurrent use.
type Pool struct {
	cfg PoolConfig
	log *slog.Logger

	idle  chan *worker  // ready workers
	freed chan struct{} // a worker slot came free (a worker was discarded)

	mu     sync.Mutex
	live   int // workers started or starting
	all    map[*worker]bool
	closed bool
}

// ErrClosed is the error of a Run after Close.
var ErrClosed = errors.New("transform: the pool is closed")

// NewPool returns a pool; its workers start on first use.
func NewPool(cfg PoolConfig) *Pool {
	cfg.defaults()
	return &Pool{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "transform"),
		idle:  make(chan *worker, cfg.Workers),
		freed: make(chan struct{}, cfg.Workers),
		all:   map[*worker]bool{},
	}
}

// Run runs the program src over an envelope in a worker and returns the
// body, as Program.Run does. A failure of the program is an *Error, with
// ReasonMemoryLimit besides Program.Run's reasons; ctx bounds the wait for a
// free worker (its error is returned as is), and the run itself is bounded
// by the pool's limits.
func (p *Pool) Run(ctx context.Context, src string, envelope []byte) ([]byte, error) {
	req := request{limits: p.cfg.Limits, key: KeyOf(src), src: src, envelope: envelope}
	if len(src)+len(envelope)+requestHead > maxRequest {
		return nil, fmt.Errorf("transform: the envelope of %d bytes is over the worker's limit", len(envelope))
	}
	w, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	body, err, healthy := p.call(w, &req)
	if healthy {
		p.release(w)
	} else {
		p.discard(w)
	}
	return body, err
}

// acquire returns an idle worker, starting one when there are fewer than
// Workers, or waits for one.
func (p *Pool) acquire(ctx context.Context) (*worker, error) {
	for {
		select {
		case w := <-p.idle:
			return w, nil
		default:
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.live < p.cfg.Workers {
			p.live++
			p.mu.Unlock()
			w, err := p.start(ctx)
			if err != nil {
				p.mu.Lock()
				p.live--
				p.mu.Unlock()
				p.signalFreed()
				return nil, err
			}
			return w, nil
		}
		p.mu.Unlock()
		select {
		case w := <-p.idle:
			return w, nil
		case <-p.freed:
		case <-ctx.Done():
			return nil, fmt.Errorf("transform: waiting for a free worker: %w", ctx.Err())
		}
	}
}

func (p *Pool) release(w *worker) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.discard(w)
		return
	}
	p.idle <- w // never blocks: at most Workers exist
}

// discard kills a worker and frees its slot.
func (p *Pool) discard(w *worker) {
	p.forget(w)
	p.mu.Lock()
	p.live--
	p.mu.Unlock()
	p.signalFreed()
}

// forget kills a worker and drops it from the pool, its slot still taken
// (a worker that did not start: acquire frees the slot).
func (p *Pool) forget(w *worker) {
	w.kill()
	p.mu.Lock()
	delete(p.all, w)
	p.mu.Unlock()
}

func (p *Pool) signalFreed() {
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// Close kills every worker; runs in progress fail and later ones return
// ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	ws := make([]*worker, 0, len(p.all))
	for w := range p.all {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	for _, w := range ws {
		w.kill()
	}
	for _, w := range ws {
		<-w.exited
	}
	return nil
}

// worker is one worker process and its pipes.
type worker struct {
	cmd    *exec.Cmd
	stdin  *os.File
	out    *bufio.Writer
	frames chan []byte // answers, read by a goroutine
	exited chan struct{}
	stderr *head
	buf    []byte
}

// startTimeout bounds a worker's start: the exec of the binary and its
// runtime's start, which take milliseconds (a second under the race
// detector on a busy machine).
const startTimeout = 30 * time.Second

// thisBinary is the path that runs this very binary again. On Linux it is
// /proc/self/exe, which stays this process's image even when the file was
// replaced on disk (an upgrade while Herald runs): a worker must speak the
// same frames as its pool.
func thisBinary() (string, error) {
	if runtime.GOOS == "linux" {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

// start starts a worker and waits until it is ready.
func (p *Pool) start(ctx context.Context) (*worker, error) {
	var cmd *exec.Cmd
	if p.cfg.Command != nil {
		cmd = p.cfg.Command()
	} else {
		exe, err := thisBinary()
		if err != nil {
			return nil, fmt.Errorf("transform: find this binary to start a worker: %w", err)
		}
		cmd = exec.Command(exe)
	}
	// Nothing of the server's environment (its master key, say) reaches the
	// worker; a traceback would only fill the log.
	cmd.Env = []string{workerEnv + "=" + strconv.FormatInt(p.cfg.Memory, 10), "GOTRACEBACK=none"}
	cmd.SysProcAttr = workerSysProcAttr()
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("transform: start a worker: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("transform: start a worker: %w", err)
	}
	w := &worker{cmd: cmd, stdin: inW, out: bufio.NewWriterSize(inW, 64<<10), frames: make(chan []byte),
		exited: make(chan struct{}), stderr: &head{max: 2 << 10}}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, w.stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("transform: start a worker: %w", err)
	}
	p.mu.Lock()
	p.all[w] = true
	closed := p.closed
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(w.exited)
	}()
	go w.read(outR, p.cfg.Limits.MaxOutput+maxErrorMsg+64)
	if closed {
		p.forget(w)
		return nil, ErrClosed
	}

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case f, ok := <-w.frames:
		if ok && len(f) == 1 && f[0] == statusReady {
			return w, nil
		}
		err = fmt.Errorf("transform: a worker did not start: it %s", w.death())
	case <-timer.C:
		err = errors.New("transform: a worker did not start in time")
	case <-ctx.Done():
		err = fmt.Errorf("transform: waiting for a worker to start: %w", ctx.Err())
	}
	p.forget(w)
	return nil, err
}

// read passes the worker's answers to frames until its output ends.
func (w *worker) read(r *os.File, limit int) {
	defer close(w.frames)
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		// A fresh buffer each time: the caller keeps the body.
		f, err := readFrame(br, nil, limit)
		if err != nil {
			return
		}
		select {
		case w.frames <- f:
		case <-w.exited: // killed after its caller gave up on it
			return
		}
	}
}

// kill ends the worker process (it is not waited for here).
func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	_ = w.stdin.Close()
}

// death describes how a worker ended: the first line it wrote (Go's
// "fatal error: …"), if any.
func (w *worker) death() string {
	how := "exited"
	select {
	case <-w.exited:
		how = "ended (" + w.cmd.ProcessState.String() + ")" // "exit status 2", "signal: killed"
	default:
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(w.stderr.String()), "\n")
	if msg == "" {
		return how
	}
	return how + ": " + msg
}

// call sends a request to w and waits for its answer, at most the time
// limit and the grace; healthy is false when the worker must go.
func (p *Pool) call(w *worker, req *request) (body []byte, err error, healthy bool) {
	w.buf = req.appendTo(w.buf[:0])
	if _, err := w.out.Write(w.buf); err != nil {
		return nil, p.lost(w), false
	}
	if err := w.out.Flush(); err != nil {
		return nil, p.lost(w), false
	}
	if cap(w.buf) > 1<<20 {
		w.buf = nil // do not keep an envelope's worth per worker
	}
	limit := p.cfg.Limits.Timeout + p.cfg.Grace
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	var poll <-chan time.Time
	if canWatchMemory {
		t := time.NewTicker(memoryPoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case f, ok := <-w.frames:
			if !ok {
				return nil, p.lost(w), false
			}
			body, err := parseAnswer(f)
			return body, err, true
		case <-deadline.C:
			return nil, &Error{Reason: ReasonTimeout, Msg: fmt.Sprintf("the program ran longer than %v", p.cfg.Limits.Timeout)}, false
		case <-poll:
			if rss := residentBytes(w.cmd.Process.Pid); rss > p.cfg.Memory+memorySlack {
				return nil, memoryError(p.cfg.Memory), false
			}
		}
	}
}

// lost is the error of a run whose worker went away: over its memory limit
// when its last words say so, else a failure of the program all the same
// (it is what the worker was running).
func (p *Pool) lost(w *worker) error {
	select {
	case <-w.exited:
	case <-time.After(time.Second):
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed // Close killed it
	}
	death := w.death()
	p.log.Warn("a transform worker died during a run", "death", death)
	if outOfMemory(death) {
		return memoryError(p.cfg.Memory)
	}
	return &Error{Reason: ReasonRuntime, Msg: "the transform process " + death}
}

// outOfMemory reports the last words of a process that ran out of memory:
// the Go runtime's, the race detector's for its shadow memory, or a new
// thread's, whose stack counts against the limit too; or a SIGKILL the pool
// did not send (it does not read the answer of a worker it killed), which on
// Linux is the kernel's out-of-memory killer. A segmentation fault the
// runtime reports as its own ("SIGSEGV: segmentation violation" first, not
// a goroutine's panic) counts too: the worker is pure Go, whose nil
// dereferences are panics, and Go 1.26's collector faults on a nil it got
// from an allocation the hard limit refused (one "x" * 1e9 in four).
func outOfMemory(death string) bool {
	for _, s := range []string{"out of memory", "cannot allocate memory", "failed to allocate", "stack exceeds", "stack overflow",
		"pthread_create failed", "signal: killed", ": SIGSEGV: segmentation violation"} {
		if strings.Contains(death, s) {
			return true
		}
	}
	return false
}

func memoryError(limit int64) error {
	return &Error{Reason: ReasonMemoryLimit, Msg: fmt.Sprintf("the program used more than the %d MiB allowed", limit>>20)}
}

// parseAnswer turns a worker's answer into Run's result.
func parseAnswer(f []byte) ([]byte, error) {
	if len(f) == 0 {
		return nil, errors.New("transform: an empty answer")
	}
	switch f[0] {
	case statusOK:
		return f[1:], nil
	case statusFailed:
		reason, msg, _ := strings.Cut(string(f[1:]), "\x00")
		return nil, &Error{Reason: Reason(reason), Msg: msg}
	case statusBadInput:
		return nil, fmt.Errorf("decode envelope: %s", f[1:])
	}
	return nil, fmt.Errorf("transform: an answer of unknown status %d", f[0])
}

// head keeps the first max bytes written to it: how a worker died is in
// the first lines of what it wrote (Go's "fatal error: …"), not in the
// stacks that may follow.
type head struct {
	max int
	mu  sync.Mutex
	b   []byte
}

func (h *head) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *head) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.b)
}

var _ io.Writer = (*head)(nil)
