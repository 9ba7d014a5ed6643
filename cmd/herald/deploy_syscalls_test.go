package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// TestEverySystemCallHeraldMakesIsOneTheUnitAllows stands in for running the
// systemd unit, which CI cannot (systemd is not its init): the binary runs
// under strace as a non-root user, on each store, through a start, API
// calls, a portal page, deliveries and a SIGTERM, and every system call it
// made must be one the unit's SystemCallFilter= lines allow, as
// systemd-analyze expands them. A call outside would fail with EPERM under
// the unit (SystemCallErrorNumber=EPERM).
func TestEverySystemCallHeraldMakesIsOneTheUnitAllows(t *testing.T) {
	needRoot(t, "running Herald as the unit's non-root user")
	strace, err1 := exec.LookPath("strace")
	analyze, err2 := exec.LookPath("systemd-analyze")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("strace and systemd-analyze are needed; .ci/run installs them")
		}
		t.Skip("strace or systemd-analyze is not installed (apt-get install strace systemd)")
	}
	allowed := unitSyscalls(t, analyze)

	stores := map[string]func(t *testing.T, dir string) string{
		"sqlite":   func(_ *testing.T, dir string) string { return filepath.Join(dir, "herald.db") },
		"postgres": func(t *testing.T, _ string) string { return pgtest.URL(t) },
	}
	for name, database := range stores {
		t.Run(name, func(t *testing.T) {
			// The binary where the unit's user can run it (t.TempDir is
			// root's alone), and a state directory that user owns.
			top, err := os.MkdirTemp("", "herald-syscalls")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(top) })
			bin, dir := filepath.Join(top, "herald"), filepath.Join(top, "state")
			if out, err := exec.Command("install", "-m", "0755", heraldBinary(t), bin).CombinedOutput(); err != nil {
				t.Fatalf("install: %v %s", err, out)
			}
			if err := os.Chmod(top, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, 65532, 65532); err != nil {
				t.Fatal(err)
			}
			trace := filepath.Join(dir, "strace.log")
			cmd := exec.Command(strace, "-f", "-qq", "-o", trace, "--", bin, "serve",
				"--database", database(t, dir), "--listen", "127.0.0.1:0", "--allow-private-destinations",
				"--operator-token", servertest.Token, "--master-key", secrets.EncodeKey(bytes.Repeat([]byte{3}, secrets.KeySize)))
			cmd.Dir = dir
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532, Groups: []uint32{}}}
			p := runProcess(t, cmd)

			rc := servertest.NewReceiver(t)
			p.Tenant("acme")
			ep := p.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
			rc.Trust(ep.Secret)
			for i := range 20 {
				p.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"i": i})})
			}
			for range 20 {
				if r := rc.Next(30 * time.Second); r.Valid != nil {
					t.Fatalf("delivery %s: %v", r.ID, r.Valid)
				}
			}
			if res, err := http.Get(p.URL + "/portal/login"); err == nil {
				res.Body.Close()
			}
			// strace's child is Herald: SIGTERM goes to it, as systemd's would.
			children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
			pid, err2 := strconv.Atoi(strings.TrimSpace(string(children)))
			if err != nil || err2 != nil {
				t.Fatalf("herald's pid under strace: %q %v %v", children, err, err2)
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.wait(t, 40*time.Second); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
			}

			used := tracedSyscalls(t, trace)
			var outside []string
			for _, s := range used {
				if !allowed[s] {
					outside = append(outside, s)
				}
			}
			if len(outside) > 0 {
				t.Fatalf("system calls outside the unit's SystemCallFilter: %v (of %d used)", outside, len(used))
			}
			t.Logf("%d distinct system calls, all allowed by the unit", len(used))
		})
	}
}

// unitSyscalls expands the unit's SystemCallFilter= lines with
// systemd-analyze: an allow list, then ~ lines that take calls away.
func unitSyscalls(t *testing.T, analyze string) map[string]bool {
	t.Helper()
	out, err := exec.Command(analyze, "syscall-filter", "--no-pager").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	sets := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(sc.Text(), "@"):
			cur = line
		case cur != "" && line != "" && !strings.HasPrefix(line, "#"):
			sets[cur] = append(sets[cur], line)
		}
	}
	var expand func(name string, into map[string]bool)
	expand = func(name string, into map[string]bool) {
		if !strings.HasPrefix(name, "@") {
			into[name] = true
			return
		}
		members, ok := sets[name]
		if !ok {
			t.Fatalf("systemd-analyze does not know the set %s", name)
		}
		for _, m := range members {
			expand(m, into)
		}
	}
	allowed := map[string]bool{}
	filters := unitService(t)["SystemCallFilter"]
	if len(filters) == 0 || strings.HasPrefix(filters[0], "~") {
		t.Fatal("herald.service: the first SystemCallFilter= must be an allow list")
	}
	for i, f := range filters {
		deny, isDeny := strings.CutPrefix(f, "~")
		if i > 0 && !isDeny {
			t.Fatalf("herald.service: SystemCallFilter=%s: this test knows one allow list followed by ~ lines", f)
		}
		names := map[string]bool{}
		for _, n := range strings.Fields(deny) {
			expand(n, names)
		}
		for n := range names {
			if isDeny {
				delete(allowed, n)
			} else {
				allowed[n] = true
			}
		}
	}
	return allowed
}

var tracedCall = regexp.MustCompile(`^\d+ +([a-z0-9_]+)\(`)

// tracedSyscalls lists the distinct system calls in an strace -f log.
func tracedSyscalls(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := tracedCall.FindStringSubmatch(sc.Text()); m != nil {
			seen[m[1]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	if len(out) < 10 {
		t.Fatalf("only %d system calls traced: %v", len(out), out)
	}
	return out
}
