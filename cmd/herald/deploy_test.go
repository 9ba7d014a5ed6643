package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// These tests hold the deployment recipes in deploy/ to the binary: every
// flag and HERALD_* variable they pass is one `herald` knows, their command
// lines parse and start a Herald, and the probes they name answer. The
// container image itself is built and run by .ci/run with podman; the test
// in deploy_root_test.go runs its file tree without a container engine.

const deployDir = "../../deploy"

// deployedCommand is a herald command line as a recipe runs it.
type deployedCommand struct {
	source string            // where it comes from, for messages
	args   []string          // after the binary's name
	env    map[string]string // the HERALD_* and Go runtime variables it sets
	// image are the variables the image sets for every command, checked
	// with the image's own command (HERALD_LISTEN means nothing to migrate).
	image map[string]string
}

func readDeployFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --- the container recipe ---

// logicalLines are a file's lines, trimmed, with lines ending in a
// backslash joined to the next, and blank and comment lines left out: how
// both Containerfiles and systemd units read.
func logicalLines(b []byte, comments ...string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if cur.Len() == 0 && (line == "" || slices.ContainsFunc(comments, func(c string) bool { return strings.HasPrefix(line, c) })) {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// instruction is one line of the Containerfile, continuation lines joined.
type instruction struct{ op, rest string }

func containerfile(t *testing.T) []instruction {
	t.Helper()
	var out []instruction
	for _, line := range logicalLines(readDeployFile(t, "container/Containerfile"), "#") {
		op, rest, _ := strings.Cut(line, " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(rest)})
	}
	return out
}

// image is what the Containerfile says about running the image.
type image struct {
	user, workdir    string
	env              map[string]string
	entrypoint, cmd  []string
	volumes, exposed []string
}

// containerImage reads the Containerfile, refusing any instruction this
// test does not know, so that the test keeps up with the recipe.
func containerImage(t *testing.T) image {
	t.Helper()
	img := image{env: map[string]string{}}
	jsonList := func(in instruction) []string {
		var l []string
		if err := json.Unmarshal([]byte(in.rest), &l); err != nil {
			t.Fatalf("Containerfile: %s %s: the exec (JSON) form is needed, without a shell in the image: %v", in.op, in.rest, err)
		}
		return l
	}
	for _, in := range containerfile(t) {
		switch in.op {
		case "FROM":
			if in.rest != "scratch" {
				t.Fatalf("Containerfile: FROM %s: the image is built FROM scratch, so that nothing but Herald is in it", in.rest)
			}
		case "ADD":
			if in.rest != "rootfs.tar /" {
				t.Fatalf("Containerfile: ADD %s: this test knows only ADD rootfs.tar /", in.rest)
			}
		case "USER":
			img.user = in.rest
		case "WORKDIR":
			img.workdir = in.rest
		case "ENV":
			for _, kv := range strings.Fields(in.rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Containerfile: ENV %s: use the KEY=value form", in.rest)
				}
				img.env[k] = v
			}
		case "ENTRYPOINT":
			img.entrypoint = jsonList(in)
		case "CMD":
			img.cmd = jsonList(in)
		case "VOLUME":
			img.volumes = append(img.volumes, jsonList(in)...)
		case "EXPOSE":
			img.exposed = append(img.exposed, strings.Fields(in.rest)...)
		case "LABEL":
		default:
			t.Fatalf("Containerfile: %s: an instruction this test does not know; teach it what it means", in.op)
		}
	}
	return img
}

func containerCommand(t *testing.T) deployedCommand {
	img := containerImage(t)
	if !slices.Equal(img.entrypoint, []string{"/herald"}) {
		t.Fatalf("Containerfile: ENTRYPOINT %q, want [\"/herald\"]", img.entrypoint)
	}
	return deployedCommand{source: "deploy/container/Containerfile", args: img.cmd, env: img.env}
}

// --- the systemd unit ---

// unitService returns the [Service] section's settings, continuation lines
// joined; a setting given twice keeps both values.
func unitService(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	section := ""
	for _, line := range logicalLines(readDeployFile(t, "systemd/herald.service"), "#", ";") {
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("herald.service: %q is not key=value", line)
		}
		if section == "[Service]" {
			out[strings.TrimSpace(k)] = append(out[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// systemdCommand is the unit's ExecStart, with the specifiers it uses put
// to the given state and credentials directories.
func systemdCommand(t *testing.T, stateRoot, credentials string) deployedCommand {
	t.Helper()
	svc := unitService(t)
	if len(svc["ExecStart"]) != 1 {
		t.Fatalf("herald.service: %d ExecStart lines, want 1", len(svc["ExecStart"]))
	}
	line := svc["ExecStart"][0]
	if strings.ContainsAny(line, `"'$`) {
		t.Fatalf("herald.service: ExecStart %q: this test splits on spaces only; quotes and variables need teaching", line)
	}
	line = strings.NewReplacer("%S", stateRoot, "%d", credentials, "%%", "%").Replace(line)
	if i := strings.IndexByte(line, '%'); i >= 0 {
		t.Fatalf("herald.service: ExecStart uses the specifier %s, which this test does not know", line[i:i+2])
	}
	fields := strings.Fields(line)
	if filepath.Base(fields[0]) != "herald" {
		t.Fatalf("herald.service: ExecStart runs %s", fields[0])
	}
	env := map[string]string{}
	for _, e := range svc["Environment"] {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	return deployedCommand{source: "deploy/systemd/herald.service", args: fields[1:], env: env}
}

// --- the Kubernetes manifests ---

// decodeStrict decodes a manifest into its Kubernetes type, refusing
// fields the type does not have (a misspelt probe would otherwise be
// dropped without a word).
func decodeStrict(t *testing.T, rel string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(readDeployFile(t, rel), into); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// kustomization is the part of kustomize's file these manifests use.
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

type cluster struct {
	kustomization kustomization
	deployment    appsv1.Deployment
	service       corev1.Service
	pdb           policyv1.PodDisruptionBudget
	account       corev1.ServiceAccount
	secret        corev1.Secret // the example
	migrate       batchv1.Job
}

func kubernetesManifests(t *testing.T) cluster {
	t.Helper()
	var c cluster
	decodeStrict(t, "kubernetes/kustomization.yaml", &c.kustomization)
	byKind := map[string]any{
		"Deployment": &c.deployment, "Service": &c.service, "PodDisruptionBudget": &c.pdb,
		"ServiceAccount": &c.account,
	}
	for _, r := range c.kustomization.Resources {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(readDeployFile(t, "kubernetes/"+r), &meta); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		into, ok := byKind[meta.Kind]
		if !ok {
			t.Fatalf("kustomization.yaml lists %s, a %s this test does not check", r, meta.Kind)
		}
		decodeStrict(t, "kubernetes/"+r, into)
		delete(byKind, meta.Kind)
	}
	for kind := range byKind {
		t.Errorf("kustomization.yaml lists no %s", kind)
	}
	decodeStrict(t, "kubernetes/secret.example.yaml", &c.secret)
	decodeStrict(t, "kubernetes/migrate-job.yaml", &c.migrate)
	return c
}

// podCommand is a container's command line, with the image's environment
// under the pod's, and each secretKeyRef resolved from the example Secret.
func podCommand(t *testing.T, source string, c corev1.Container, secret corev1.Secret) deployedCommand {
	t.Helper()
	if len(c.Command) != 0 {
		t.Fatalf("%s: command %q replaces the image's /herald entrypoint; pass args only", source, c.Command)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secret.StringData[ref.Key]
			if ref.Name != secret.Name || !ok {
				t.Fatalf("%s: %s comes from secret %s key %s, which secret.example.yaml (%s) does not have", source, e.Name, ref.Name, ref.Key, secret.Name)
			}
			env[e.Name] = v
		default:
			t.Fatalf("%s: %s: only values and secretKeyRefs are known to this test", source, e.Name)
		}
	}
	return deployedCommand{source: source, args: c.Args, env: env, image: containerImage(t).env}
}

func deploymentCommand(t *testing.T, k cluster) deployedCommand {
	t.Helper()
	cs := k.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("deployment.yaml: %d containers, want 1", len(cs))
	}
	return podCommand(t, "deploy/kubernetes/deployment.yaml", cs[0], k.secret)
}

// needRoot skips a test that needs root, unless under CI, which runs as
// root: there it fails, so that a changed CI is not mistaken for a pass.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s needs root, and CI runs as root", why)
	}
	t.Skipf("%s needs root: run as root (CI does)", why)
}

// --- the command line ---

// runtimeEnv are the variables a recipe may set besides HERALD_*: the Go
// runtime's.
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOGC": true, "GOMAXPROCS": true, "GODEBUG": true, "PATH": true}

// unknownNames lists the flags and variables of a command line that its
// herald command does not have.
func unknownNames(t *testing.T, dc deployedCommand) []string {
	t.Helper()
	p, err := kong.New(&cli{}, options()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(dc.args) == 0 {
		t.Fatalf("%s: no herald command", dc.source)
	}
	var node *kong.Node
	for _, n := range p.Model.Children {
		if n.Name == dc.args[0] {
			node = n
		}
	}
	if node == nil {
		return []string{"command " + dc.args[0]}
	}
	flags, envs := map[string]bool{}, map[string]bool{}
	for _, group := range node.AllFlags(false) {
		for _, f := range group {
			flags[f.Name] = true
			if f.Tag.Negatable != "" {
				flags["no-"+f.Name] = true
			}
			for _, e := range f.Envs {
				envs[e] = true
			}
		}
	}
	var unknown []string
	for _, a := range dc.args[1:] {
		name, isFlag := strings.CutPrefix(a, "--")
		name, _, _ = strings.Cut(name, "=")
		if isFlag && !flags[name] {
			unknown = append(unknown, "--"+name)
		}
	}
	for k := range dc.env {
		if !envs[k] && !runtimeEnv[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return unknown
}

// parse parses a command line as `herald` does, with its variables set.
func parse(t *testing.T, dc deployedCommand) (*cli, string) {
	t.Helper()
	// Only the recipe's variables count, not those of an earlier parse.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HERALD_") && !strings.HasPrefix(k, "HERALD_TEST_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for _, env := range []map[string]string{dc.image, dc.env} {
		for k, v := range env {
			t.Setenv(k, v)
		}
	}
	var c cli
	var usage bytes.Buffer
	p, err := kong.New(&c, append(options(), kong.Writers(&usage, &usage), kong.Exit(func(int) { panic("exit") }))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := p.Parse(dc.args)
	if err != nil {
		t.Fatalf("%s: herald %s: %v", dc.source, strings.Join(dc.args, " "), err)
	}
	return &c, ctx.Command()
}

func TestEveryFlagAndVariableTheRecipesPassIsOneHeraldHas(t *testing.T) {
	k := kubernetesManifests(t)
	cmds := []deployedCommand{
		containerCommand(t),
		systemdCommand(t, "/var/lib", "/run/credentials/herald.service"),
		deploymentCommand(t, k),
		podCommand(t, "deploy/kubernetes/migrate-job.yaml", k.migrate.Spec.Template.Spec.Containers[0], k.secret),
	}
	var missing []string
	for _, dc := range cmds {
		if u := unknownNames(t, dc); len(u) > 0 {
			missing = append(missing, fmt.Sprintf("%s: %s", dc.source, strings.Join(u, ", ")))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("names herald does not know:\n%s", strings.Join(missing, "\n"))
	}
	// Known names may still carry values herald refuses (a duration
	// without a unit, a bad address list).
	for _, dc := range cmds {
		if _, cmd := parse(t, dc); cmd != dc.args[0] {
			t.Errorf("%s: parses as herald %s", dc.source, cmd)
		}
	}
}

// listenOn rewrites every listening address of a command line (flags and
// variables named *listen*) to a free loopback port, so that a recipe's
// command can run beside others; it returns the addresses by flag or
// variable.
func listenOn(t *testing.T, dc deployedCommand) (deployedCommand, map[string]string) {
	t.Helper()
	addrs := map[string]string{}
	free := func(name string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[name] = ln.Addr().String()
		return addrs[name]
	}
	out := deployedCommand{source: dc.source, env: map[string]string{}, image: map[string]string{}}
	for from, to := range map[*map[string]string]map[string]string{&dc.env: out.env, &dc.image: out.image} {
		for k, v := range *from {
			if strings.HasSuffix(k, "_LISTEN") {
				v = free(k)
			}
			to[k] = v
		}
	}
	for i := 0; i < len(dc.args); i++ {
		a := dc.args[i]
		name, _, hasValue := strings.Cut(a, "=")
		if strings.HasPrefix(name, "--") && strings.HasSuffix(name, "listen") {
			if !hasValue {
				i++ // the value is the next argument
			}
			a = name + "=" + free(name)
		}
		out.args = append(out.args, a)
	}
	return out, addrs
}

// serveFrom parses a recipe's `herald serve` command line and runs it in
// this process, until the test ends; it returns the API's address and
// every listening address by flag or variable.
func serveFrom(t *testing.T, dc deployedCommand) (string, map[string]string) {
	t.Helper()
	dc, addrs := listenOn(t, dc)
	c, cmd := parse(t, dc)
	if cmd != "serve" {
		t.Fatalf("%s: herald %s, want serve", dc.source, cmd)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- c.Serve.run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(addr string) { ready <- addr })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: herald stopped with %v", dc.source, err)
		}
	})
	select {
	case addr := <-ready:
		return addr, addrs
	case err := <-done:
		t.Fatalf("%s: herald did not start: %v", dc.source, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: herald did not start within a minute", dc.source)
	}
	return "", nil
}

// answers200 waits until GET path on addr answers 200.
func answers200(t *testing.T, source, addr, path string) {
	t.Helper()
	var last string
	ok := false
	deadline := time.Now().Add(15 * time.Second)
	for !ok && time.Now().Before(deadline) {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			last = err.Error()
		} else {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
			res.Body.Close()
			last = fmt.Sprintf("%d %s", res.StatusCode, strings.TrimSpace(string(body)))
			ok = res.StatusCode == http.StatusOK
		}
		if !ok {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !ok {
		t.Errorf("%s: GET %s answers %s, want 200", source, path, last)
	}
}

func TestTheDeploymentStartsOnPostgreSQLAndEveryProbeAnswers(t *testing.T) {
	k := kubernetesManifests(t)
	dc := deploymentCommand(t, k)
	// The cluster's Secret, pointed at a fresh schema of the test server.
	dc.env["HERALD_DATABASE"] = pgtest.URL(t)
	dc.env["HERALD_MASTER_KEY"] = secrets.EncodeKey(bytes.Repeat([]byte{7}, secrets.KeySize))
	dc.env["HERALD_OPERATOR_TOKEN"] = servertest.Token
	addr, listens := serveFrom(t, dc)

	c := k.deployment.Spec.Template.Spec.Containers[0]
	probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe}
	for kind, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("deployment.yaml: no HTTP %s probe", kind)
			continue
		}
		if p.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("deployment.yaml: the %s probe asks port %s, not the API's (http)", kind, p.HTTPGet.Port.String())
		}
		answers200(t, "deployment.yaml "+kind+" probe", addr, p.HTTPGet.Path)
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("deployment.yaml: liveness asks %s; only /healthz leaves the database out of it, so that an outage does not restart every pod", c.LivenessProbe.HTTPGet.Path)
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("deployment.yaml: readiness asks %s, want /readyz (store, migrations, dispatcher)", c.ReadinessProbe.HTTPGet.Path)
	}
	// The metrics port serves what Prometheus scrapes (a ServiceMonitor's
	// default path), as docs/deploy.md says.
	if metrics, ok := listens["--metrics-listen"]; ok {
		answers200(t, "deployment.yaml metrics port", metrics, "/metrics")
	} else {
		t.Error("deployment.yaml: no --metrics-listen, though the container names a metrics port")
	}
}

func TestTheSystemdUnitsCommandStartsHeraldWithItsCredential(t *testing.T) {
	state, creds := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(state, "herald"), 0o700); err != nil {
		t.Fatal(err)
	}
	dc := systemdCommand(t, state, creds)
	dc.env["HERALD_OPERATOR_TOKEN"] = servertest.Token // as /etc/herald/herald.env would
	// LoadCredential=master-key:… puts the key file in the credentials
	// directory; Herald must read it there and create nothing beside it.
	var keyFile string
	for _, lc := range unitService(t)["LoadCredential"] {
		name, _, _ := strings.Cut(lc, ":")
		keyFile = filepath.Join(creds, name)
		if err := secrets.WriteKeyFile(keyFile, bytes.Repeat([]byte{5}, secrets.KeySize)); err != nil {
			t.Fatal(err)
		}
	}
	if keyFile == "" || !slices.Contains(dc.args, "--master-key-file") && !slices.ContainsFunc(dc.args, func(a string) bool { return strings.HasPrefix(a, "--master-key-file=") }) {
		t.Fatal("herald.service: the master key is not passed as a credential file (LoadCredential and --master-key-file)")
	}
	if err := os.Chmod(keyFile, 0o400); err != nil { // as systemd leaves it
		t.Fatal(err)
	}
	addr, _ := serveFrom(t, dc)
	answers200(t, dc.source, addr, "/healthz")
	if _, err := os.Stat(filepath.Join(state, "herald", "herald.db")); err != nil {
		t.Errorf("herald.service: the database is not in the state directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "herald", "herald.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("herald.service: a key file was made beside the database although the credential holds the key (%v)", err)
	}
}

func TestTheKubernetesManifestsHangTogether(t *testing.T) {
	k := kubernetesManifests(t)
	d := k.deployment
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("deployment.yaml: replicas %v, want at least 2", d.Spec.Replicas)
	}
	labels := d.Spec.Template.Labels
	for what, sel := range map[string]map[string]string{
		"deployment.yaml selector": d.Spec.Selector.MatchLabels, "service.yaml selector": k.service.Spec.Selector,
		"poddisruptionbudget.yaml selector": k.pdb.Spec.Selector.MatchLabels,
	} {
		if len(sel) == 0 {
			t.Errorf("%s is empty", what)
		}
		for key, v := range sel {
			if labels[key] != v {
				t.Errorf("%s %s=%s does not match the pods' labels %v", what, key, v, labels)
			}
		}
	}
	if spec.ServiceAccountName != k.account.Name {
		t.Errorf("deployment.yaml: service account %q, serviceaccount.yaml makes %q", spec.ServiceAccountName, k.account.Name)
	}
	if k.pdb.Spec.MinAvailable == nil || k.pdb.Spec.MinAvailable.IntValue() < 1 || k.pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("poddisruptionbudget.yaml: minAvailable %v: at least 1 and fewer than the replicas, or nodes cannot be drained", k.pdb.Spec.MinAvailable)
	}

	// Security: not root, nothing to write but /tmp, no privileges.
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("deployment.yaml: the pod must run as a non-root user (runAsNonRoot, runAsUser)")
	}
	if img := containerImage(t); psc != nil && psc.RunAsUser != nil && img.user != fmt.Sprintf("%d:%d", *psc.RunAsUser, *psc.RunAsGroup) {
		t.Errorf("deployment.yaml runs as %d:%d, the image as %s", *psc.RunAsUser, *psc.RunAsGroup, img.user)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Error("deployment.yaml: the container needs readOnlyRootFilesystem, allowPrivilegeEscalation false and every capability dropped")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("deployment.yaml: no %s request", r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("deployment.yaml: no memory limit")
	}

	// The ports the manifests name are the ones Herald listens on.
	c2, _ := parse(t, deploymentCommand(t, k))
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if _, port, _ := net.SplitHostPort(c2.Serve.Listen); port != fmt.Sprint(ports["http"]) {
		t.Errorf("deployment.yaml: Herald listens on %s, the container's http port is %d", c2.Serve.Listen, ports["http"])
	}
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--metrics-listen="); ok {
			if _, port, _ := net.SplitHostPort(v); port != fmt.Sprint(ports["metrics"]) {
				t.Errorf("deployment.yaml: metrics listen on %s, the container's metrics port is %d", v, ports["metrics"])
			}
		}
	}
	for _, p := range k.service.Spec.Ports {
		if _, ok := ports[p.TargetPort.String()]; !ok {
			t.Errorf("service.yaml: port %s targets %s, which the container does not name", p.Name, p.TargetPort.String())
		}
	}

	// SIGTERM's grace must fit in the pod's.
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= c2.Serve.ShutdownGrace {
		t.Errorf("deployment.yaml: terminationGracePeriodSeconds %v does not leave room for --shutdown-grace %s", g, c2.Serve.ShutdownGrace)
	}

	// Every file the kustomization names exists, and the image it sets is
	// the one the Deployment uses.
	if len(k.kustomization.Images) != 1 || k.kustomization.Images[0].Name != c.Image {
		t.Errorf("kustomization.yaml: images %+v do not set the Deployment's image %q", k.kustomization.Images, c.Image)
	}
}

// TestTheSystemdUnitIsValidAndSandboxed asks systemd's own tools: the unit is
// valid, and its exposure score (systemd-analyze security) stays low.
func TestTheSystemdUnitIsValidAndSandboxed(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is not installed; CI has it (Debian's systemd)")
		}
		t.Skip("systemd-analyze is not installed")
	}
	// verify wants the binary the unit runs to exist.
	unit := strings.Replace(string(readDeployFile(t, "systemd/herald.service")), "/usr/local/bin/herald ", heraldBinary(t)+" ", 1)
	path := filepath.Join(t.TempDir(), "herald.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	var score float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "Overall exposure level for herald.service: "); ok {
			_, _ = fmt.Sscanf(after, "%g", &score)
		}
	}
	if score == 0 || score > 1.5 {
		t.Fatalf("systemd-analyze security: exposure %.1f, want at most 1.5 (0-10, lower is safer):\n%s", score, out)
	}
	t.Logf("systemd-analyze security: exposure %.1f", score)
}
