package main

import (
	"errors"
	"go/build"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/server/servertest"
)

// The admin commands are proven in internal/cli; these tests hold the
// binary to them: the commands are there, a refused call exits 1 with the
// problem on standard error, and the commands talk to Herald only through
// the public client.

func TestTheBinaryRunsTheAdminCommandsAndExitsOneOnARefusal(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	run := func(token string, args ...string) (string, string, error) {
		cmd := exec.Command(heraldBinary(t), args...)
		cmd.Env = append(os.Environ(), "HERALD_URL="+h.URL, "HERALD_TOKEN="+token, "HERALD_CONFIG=", "XDG_CONFIG_HOME="+t.TempDir())
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	out, stderr, err := run(servertest.Token, "tenants", "list")
	if err != nil || !strings.Contains(out, "acme") {
		t.Fatalf("herald tenants list: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err = run("wrong-token", "tenants", "list", "-o", "json")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("a refused token: %v", err)
	}
	if out != "" || !strings.HasPrefix(stderr, "herald: Unauthorized (401)") {
		t.Fatalf("a refused token printed\nstdout: %s\nstderr: %s", out, stderr)
	}
}

func TestTheAdminCommandsImportNothingOfHeraldButTheClient(t *testing.T) {
	pkg, err := build.ImportDir("../../internal/cli", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/heraldhq/herald") && imp != "github.com/heraldhq/herald/client" {
			t.Errorf("internal/cli imports %s: it must call Herald over HTTP through client/ only", imp)
		}
	}
}
