package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// buildHerald compiles ./cmd/herald into dir: of the working tree, or of
// the commit rev when given (exported with git archive, so work in
// progress in the tree does not leak into the measurement).
func buildHerald(dir, rev string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	src := root
	if rev != "" {
		src = filepath.Join(dir, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		archive := exec.Command("git", "-C", root, "archive", rev)
		untar := exec.Command("tar", "-x", "-C", src)
		pipe, err := archive.StdoutPipe()
		if err != nil {
			return "", err
		}
		untar.Stdin = pipe
		var stderr strings.Builder
		archive.Stderr = &stderr
		if err := untar.Start(); err != nil {
			return "", err
		}
		if err := archive.Run(); err != nil {
			return "", fmt.Errorf("git archive %s: %v %s", rev, err, stderr.String())
		}
		if err := untar.Wait(); err != nil {
			return "", fmt.Errorf("untar %s: %w", rev, err)
		}
	}
	bin := filepath.Join(dir, "herald")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/herald")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/herald: %v\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the go.mod this harness belongs to.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run the harness from inside the Herald module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

var listeningLine = regexp.MustCompile(`herald is listening"? addr=(\S+)`)

const operatorToken = "bench-operator-token"

// masterKey seals endpoint secrets at rest in every Herald the harness runs.
var masterKey = func() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}()

// heraldProc is a running Herald server.
type heraldProc struct {
	cmd     *exec.Cmd
	base    string
	log     string // path of its stderr
	pprof   string // address of its profiler, when asked for
	exited  chan error
	warns   atomic.Int64
	errs    atomic.Int64
	lastErr atomic.Value
	client  *http.Client
}

// startHerald runs `herald serve` on a fresh database, with the flags
// given beside the harness's own, and waits for its "herald is listening"
// line.
func startHerald(bin, database, logPath string, profile bool, flags ...string) (*heraldProc, error) {
	args := []string{"serve", "--database", database, "--listen", "127.0.0.1:0",
		"--allow-private-destinations", "--operator-token", operatorToken}
	args = append(args, flags...)
	h := &heraldProc{log: logPath, exited: make(chan error, 1)}
	if profile {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		h.pprof = addr
		args = append(args, "--pprof-listen", addr)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	if os.Getenv("HERALD_MASTER_KEY") == "" {
		// Endpoint secrets are sealed at rest; PostgreSQL needs the key given.
		cmd.Env = append(cmd.Env, "HERALD_MASTER_KEY="+masterKey)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	h.cmd = cmd
	addr := make(chan string, 1)
	go func() {
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			switch {
			case strings.Contains(line, "level=ERROR"):
				h.errs.Add(1)
				h.lastErr.Store(line)
			case strings.Contains(line, "level=WARN"):
				h.warns.Add(1)
			}
		}
		_, _ = io.Copy(logFile, stderr)
		h.exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		h.base = "http://" + a
	case err := <-h.exited:
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return nil, fmt.Errorf("herald exited before listening (%v): %s", err, strings.TrimSpace(string(tail)))
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("herald did not start within 60 s; see %s", logPath)
	}
	// The publisher's pool: keep-alive connections, enough for every
	// concurrent publisher.
	h.client = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}}
	return h, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (h *heraldProc) pid() int { return h.cmd.Process.Pid }

// stop sends SIGTERM and waits; Herald lets attempts in flight finish for
// its grace period, so a hung receiver can hold it up to that long.
func (h *heraldProc) stop() error {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-h.exited:
		return err
	case <-time.After(45 * time.Second):
		_ = h.cmd.Process.Kill()
		return fmt.Errorf("herald did not stop within 45 s of SIGTERM; killed")
	}
}

// apiError is an unexpected answer from Herald.
type apiError struct {
	method, path string
	status       int
	body         string
	// retryAfter is the answer's Retry-After header, when it had one.
	retryAfter string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, strings.TrimSpace(e.body))
}

// call makes an API request as the operator in the bench tenant's scope and
// decodes the answer into out when it has the wanted status.
func (h *heraldProc) call(ctx context.Context, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Herald-Tenant", benchTenant)
	req.Header.Set("Herald-Environment", benchEnvironment)
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &apiError{method: method, path: path, status: resp.StatusCode, body: string(raw), retryAfter: resp.Header.Get("Retry-After")}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

const benchTenant = "bench"

// benchEnvironment is sandbox: production endpoints must use https, and the
// harness measures Herald over plain HTTP on loopback, as the ceiling does.
const benchEnvironment = "sandbox"

func (h *heraldProc) createTenant(ctx context.Context) error {
	return h.call(ctx, http.MethodPost, "/v1/tenants", []byte(`{"id":"`+benchTenant+`","name":"Load harness"}`), http.StatusCreated, nil)
}

// endpointSpec is what the harness sets on an endpoint.
type endpointSpec struct {
	URL            string `json:"url"`
	Name           string `json:"name"`
	MaxConcurrency int    `json:"max_concurrency"`
	TimeoutMS      int    `json:"timeout_ms,omitempty"`
	Status         string `json:"status,omitempty"`
	// Profile is the delivery profile; standard when empty.
	Profile        string            `json:"profile,omitempty"`
	ProfileOptions map[string]string `json:"profile_options,omitempty"`
	// Ordering is job for an endpoint ordered by job; none when empty.
	Ordering    string     `json:"ordering,omitempty"`
	RetryPolicy *retrySpec `json:"retry_policy,omitempty"`
}

// retrySpec is an endpoint's retry policy as the harness sets it.
type retrySpec struct {
	Delays []string `json:"delays"`
}

type createdEndpoint struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

func (h *heraldProc) createEndpoint(ctx context.Context, spec endpointSpec) (createdEndpoint, error) {
	body, _ := json.Marshal(spec)
	var ep createdEndpoint
	err := h.call(ctx, http.MethodPost, "/v1/endpoints", body, http.StatusCreated, &ep)
	return ep, err
}

func (h *heraldProc) setEndpointStatus(ctx context.Context, id, status string) error {
	return h.call(ctx, http.MethodPatch, "/v1/endpoints/"+id, []byte(`{"status":"`+status+`"}`), http.StatusOK, nil)
}

// profileCPU asks Herald's profiler for a CPU profile of the next seconds
// and writes it to path. It runs in the background; wait on the channel.
func (h *heraldProc) profileCPU(seconds int, path string) <-chan error {
	done := make(chan error, 1)
	go func() {
		if h.pprof == "" {
			done <- fmt.Errorf("herald was started without a profiler")
			return
		}
		c := &http.Client{Timeout: time.Duration(seconds+60) * time.Second}
		resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.pprof, seconds))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(resp.Body)
			done <- fmt.Errorf("profile: %s: %s", resp.Status, msg)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}
