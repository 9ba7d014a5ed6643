package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The tests run each command as `herald` parses and runs it (kong, the
// same Commands and variables), in this process, against a real Herald
// over HTTP; only the credentials' sources change from test to test.

// grammar is cmd/herald's command line as far as these commands go.
type grammar struct {
	Commands
}

// result is what one command did.
type result struct {
	Stdout, Stderr string
	Err            error
}

// isolate keeps the machine's own settings out of a test: no HERALD_*
// variable, and a config directory of the test's own.
func isolate(t *testing.T) string {
	t.Helper()
	for _, k := range []string{"HERALD_URL", "HERALD_TOKEN", "HERALD_TENANT", "HERALD_ENVIRONMENT", "HERALD_CONFIG", "HERALD_OUTPUT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	return dir
}

// herald runs `herald args...` with stdin as its standard input.
func herald(t *testing.T, ctx context.Context, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runArgs(t, &IO{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Version: "9.9.9-test", Context: ctx}, args)
	if err != nil {
		Report(&stderr, err)
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// runArgs parses and runs a command line with e bound, as main does.
func runArgs(t *testing.T, e *IO, args []string) error {
	t.Helper()
	var g grammar
	var usage bytes.Buffer
	p, err := kong.New(&g, kong.Name("herald"), kong.Vars(Vars()), kong.Writers(&usage, &usage),
		kong.Exit(func(int) { t.Fatalf("herald %s exited: %s", strings.Join(args, " "), usage.String()) }))
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := p.Parse(args)
	if err != nil {
		return err
	}
	return kctx.Run(e)
}

// op is a command line with the operator's credentials as flags.
func op(h *servertest.Herald, args ...string) []string {
	return append(args, "--herald-url", h.URL, "--token", servertest.Token)
}

// ok runs a command that must succeed and returns its standard output.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := herald(t, t.Context(), "", args...)
	if r.Err != nil {
		t.Fatalf("herald %s: %v\n%s", strings.Join(args, " "), r.Err, r.Stderr)
	}
	return r.Stdout
}

// okJSON runs a command with -o json and decodes its output into a T.
func okJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	out := ok(t, append(args, "-o", "json")...)
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("herald %s: output is not the JSON expected: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// refused runs a command that the API must refuse with status, and
// returns what it wrote on standard error.
func refused(t *testing.T, status int, args ...string) string {
	t.Helper()
	r := herald(t, t.Context(), "", args...)
	var pe *client.Error
	if !errors.As(r.Err, &pe) || pe.Status != status {
		t.Fatalf("herald %s: want the API's %d, got %v\n%s", strings.Join(args, " "), status, r.Err, r.Stderr)
	}
	return r.Stderr
}

// writeConfig writes a config file with mode perm.
func writeConfig(t *testing.T, path string, c config, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	if err := os.WriteFile(path, b, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
}

func TestCredentialsComeFromAFlagTheEnvironmentOrTheConfigFile(t *testing.T) {
	home := isolate(t)
	h := servertest.Start(t)
	h.Tenant("acme")
	listed := func(out string) bool { return strings.Contains(out, "acme") }

	// A flag.
	if out := ok(t, "tenants", "list", "--herald-url", h.URL, "--token", servertest.Token); !listed(out) {
		t.Fatalf("with flags: %s", out)
	}

	// The environment.
	t.Setenv("HERALD_URL", h.URL)
	t.Setenv("HERALD_TOKEN", servertest.Token)
	if out := ok(t, "tenants", "list"); !listed(out) {
		t.Fatalf("with HERALD_URL and HERALD_TOKEN: %s", out)
	}
	// A flag wins over the environment.
	refused(t, 401, "tenants", "list", "--token", "wrong-token")
	os.Unsetenv("HERALD_URL")
	os.Unsetenv("HERALD_TOKEN")

	// The config file at its default place, then at a path given.
	def := filepath.Join(home, "herald", "config.json")
	writeConfig(t, def, config{URL: h.URL, Token: servertest.Token}, 0o600)
	if out := ok(t, "tenants", "list"); !listed(out) {
		t.Fatalf("with %s: %s", def, out)
	}
	other := filepath.Join(t.TempDir(), "herald.json")
	writeConfig(t, other, config{URL: h.URL, Token: servertest.Token, Tenant: "acme", Environment: "production"}, 0o600)
	if err := os.Remove(def); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, "tenants", "list", "--config", other); !listed(out) {
		t.Fatalf("with --config: %s", out)
	}
	// The file's tenant and environment scope the calls.
	key := okJSON[client.APIKeyWithSecret](t, "keys", "create", "--config", other)
	if key.TenantID != "acme" || key.Environment != "production" {
		t.Fatalf("a key made with the file's scope is for %s/%s", key.TenantID, key.Environment)
	}
	t.Setenv("HERALD_CONFIG", other)
	// The environment wins over the file.
	t.Setenv("HERALD_TOKEN", "wrong-token")
	stderr := refused(t, 401, "tenants", "list")
	if !strings.Contains(stderr, "(401)") || !strings.Contains(stderr, "HERALD_TOKEN") {
		t.Fatalf("a refused credential reads:\n%s", stderr)
	}
	os.Unsetenv("HERALD_TOKEN")

	// A file holding a token that others may read is refused, as ssh
	// refuses such a key.
	writeConfig(t, other, config{URL: h.URL, Token: servertest.Token}, 0o644)
	r := herald(t, t.Context(), "", "tenants", "list")
	if r.Err == nil || !strings.Contains(r.Err.Error(), "chmod 600") {
		t.Fatalf("a world-readable config file with a token: %v", r.Err)
	}
	// A misspelt setting is an error, not silently ignored.
	if err := os.WriteFile(other, []byte(`{"url": "`+h.URL+`", "tokn": "x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := herald(t, t.Context(), "", "tenants", "list"); r.Err == nil || !strings.Contains(r.Err.Error(), "tokn") {
		t.Fatalf("an unknown config field: %v", r.Err)
	}
	// A --config that does not exist is an error; the default one may be absent.
	if r := herald(t, t.Context(), "", "tenants", "list", "--config", filepath.Join(home, "none.json")); r.Err == nil {
		t.Fatal("a missing --config file was accepted")
	}
	os.Unsetenv("HERALD_CONFIG")
	if r := herald(t, t.Context(), "", "tenants", "list", "--herald-url", h.URL); r.Err == nil || !strings.Contains(r.Err.Error(), "no credential") {
		t.Fatalf("without any token: %v", r.Err)
	}
}

func TestARefusedCallPrintsTheProblemAndItsFields(t *testing.T) {
	isolate(t)
	h := servertest.Start(t)
	h.Tenant("acme")
	// The operator token without a tenant: the API asks for the header,
	// and the command line says which setting gives it.
	stderr := refused(t, 400, op(h, "endpoints", "list")...)
	for _, want := range []string{"(400)", "header.Herald-Tenant: required", "--tenant"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// A refused field of the body.
	stderr = refused(t, 422, op(h, "endpoints", "create", "--tenant", "acme", "--url", "ftp://example.com/hook")...)
	if !strings.Contains(stderr, "body.url") {
		t.Errorf("stderr lacks the refused field body.url:\n%s", stderr)
	}
	// An API key cannot make the operator's calls.
	key := h.APIKey("acme", client.Sandbox)
	stderr = refused(t, 403, "tenants", "list", "--herald-url", h.URL, "--token", key.Key)
	if !strings.Contains(stderr, "operator token") {
		t.Errorf("a 403 reads:\n%s", stderr)
	}
}

func TestTheCommandLineNamesItselfInTheUserAgent(t *testing.T) {
	isolate(t)
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.UserAgent()
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"status":422,"title":"Unprocessable Entity","detail":"validation failed","errors":[{"location":"body.name","message":"required","value":""}]}`))
	}))
	defer srv.Close()
	r := herald(t, t.Context(), "", "tenants", "create", "--name", "x", "--herald-url", srv.URL, "--token", "t")
	if ua := <-got; ua != "herald-cli/9.9.9-test" {
		t.Errorf("User-Agent %q", ua)
	}
	if r.Err == nil || !strings.Contains(r.Stderr, "Unprocessable Entity (422): validation failed\n  body.name: required") {
		t.Errorf("stderr:\n%s", r.Stderr)
	}
}
