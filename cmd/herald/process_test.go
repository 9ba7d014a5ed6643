package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// These tests run the real binary as a separate process, to prove what
// happens when it is killed or told to stop.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func heraldBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "herald-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "herald")
		// Built as it ships (deploy/container/build.sh): static, without cgo.
		build := exec.Command("go", "build", "-o", binPath, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running herald binary.
type proc struct {
	*servertest.Herald
	cmd    *exec.Cmd
	stderr *servertest.Log
	exited chan error
}

var listening = regexp.MustCompile(`herald is listening"? addr=(\S+)`)

func startProcess(t *testing.T, db string, args ...string) *proc {
	t.Helper()
	return runProcess(t, exec.Command(heraldBinary(t), append([]string{"serve", "--database", db, "--listen", "127.0.0.1:0", "--allow-private-destinations", "--no-production-https-only"}, args...)...))
}

// runProcess starts cmd, a herald serve, and waits until it listens.
func runProcess(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &servertest.Log{}, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stderr, line)
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(p.stderr, stderr)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("herald stderr:\n%s", p.stderr.String())
		}
	})
	select {
	case a := <-addr:
		p.Herald = servertest.At(t, "http://"+a, nil)
	case err := <-p.exited:
		t.Fatalf("herald exited before listening: %v\n%s", err, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("herald did not start:\n%s", p.stderr.String())
	}
	return p
}

func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(timeout):
		t.Fatalf("herald did not exit within %s", timeout)
		return nil
	}
}

func TestDeliveriesClaimedByAKilledProcessAreSentAfterRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	rc := servertest.NewReceiver(t)
	hold := make(chan struct{})
	inFlight := make(chan struct{}, 100)
	rc.Respond(func(n int, r *http.Request) int {
		select {
		case inFlight <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	first := startProcess(t, db, "--operator-token", servertest.Token)
	first.Tenant("acme")
	ep := first.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, MaxConcurrency: client.Ptr(4)})
	rc.Trust(ep.Secret)
	const events = 40
	want := map[string]bool{}
	for i := 0; i < events; i++ {
		want[first.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"i": i})}).ID] = true
	}
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery reached the receiver")
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.wait(t, 10*time.Second)

	// The receiver now takes everything at once.
	rc.Respond(func(int, *http.Request) int { return http.StatusOK })
	close(hold)
	second := startProcess(t, db)
	arrived := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(arrived) < events {
		select {
		case r := <-rc.Arrived():
			if r.Valid != nil {
				t.Fatalf("delivery %s: %v", r.ID, r.Valid)
			}
			if want[r.ID] {
				arrived[r.ID] = true
			}
		case <-deadline:
			t.Fatalf("after restart only %d of %d events arrived", len(arrived), events)
		}
	}
	servertest.Eventually(t, 10*time.Second, "every delivery to be logged as succeeded", func() bool {
		return len(second.Deliveries("acme", "sandbox", &client.DeliveryListParams{Status: client.DeliverySucceeded, ListParams: client.ListParams{Limit: 100}})) == events
	})
}

func TestSIGTERMLetsTheAttemptInFlightFinish(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	rc := servertest.NewReceiver(t)
	started := make(chan struct{}, 1)
	rc.Respond(func(int, *http.Request) int {
		started <- struct{}{}
		time.Sleep(time.Second)
		return http.StatusOK
	})
	p := startProcess(t, db, "--operator-token", servertest.Token)
	p.Tenant("acme")
	ep := p.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	rc.Trust(ep.Secret)
	p.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`)})
	<-started
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 20*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	if r := rc.Next(time.Second); r.Valid != nil {
		t.Fatalf("the attempt in flight: %v", r.Valid)
	}
	again := startProcess(t, db)
	ds := again.Deliveries("acme", "sandbox", nil)
	if len(ds) != 1 || ds[0].Status != client.DeliverySucceeded || ds[0].AttemptCount != 1 {
		t.Fatalf("after a graceful stop the delivery is %+v", ds)
	}
	rc.Quiet(500 * time.Millisecond)
}

func TestTheGeneratedOperatorTokenIsPrintedOnceAndKept(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	p := startProcess(t, db)
	tok := regexp.MustCompile(`hop_[A-Za-z0-9_-]+`).FindString(p.stderr.String())
	if tok == "" {
		t.Fatalf("no token printed:\n%s", p.stderr.String())
	}
	servertest.Must(p.Client.WithToken(tok).ListTenants(t.Context(), nil))(t)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.wait(t, 20*time.Second)

	again := startProcess(t, db)
	if strings.Contains(again.stderr.String(), "hop_") {
		t.Fatal("the token was printed a second time")
	}
	servertest.Must(again.Client.WithToken(tok).ListTenants(t.Context(), nil))(t)
	bytes, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(bytes), tok) {
		t.Fatal("the token is stored in clear")
	}
}

func TestASecondProcessOnTheSameSQLiteFileIsRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	startProcess(t, db, "--operator-token", servertest.Token)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, heraldBinary(t), "serve", "--database", db, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another Herald process") {
		t.Fatalf("second process: err=%v\n%s", err, out)
	}
}
