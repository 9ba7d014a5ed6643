package main

import (
	"debug/elf"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// TestTheImagesFilesRunHeraldAloneAsItsUser runs the container image without
// a container engine: the file tree deploy/container/build.sh makes for it,
// unpacked into an empty directory, the binary started there with chroot as
// the image's user, with the image's working directory, variables and
// command. Nothing else is in that root: no libc, no shell, no /proc, no
// /dev. A delivery over HTTPS to a receiver whose certificate is in the
// image's CA bundle (and nowhere else) proves that Herald finds the bundle.
func TestTheImagesFilesRunHeraldAloneAsItsUser(t *testing.T) {
	needRoot(t, "chroot")
	img := containerImage(t)
	uid, gid := imageUser(t, img.user)

	rc := servertest.NewTLSReceiver(t, nil)
	bundle := filepath.Join(t.TempDir(), "ca-certificates.crt")
	host, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	own := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.Certificate().Raw})
	if err := os.WriteFile(bundle, append(host, own...), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := t.TempDir()
	build := exec.Command("bash", filepath.Join(deployDir, "container", "build.sh"), "--context", ctx)
	build.Env = append(os.Environ(), "HERALD_BIN="+heraldBinary(t), "CA_BUNDLE="+bundle, "VERSION=test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh --context: %v\n%s", err, out)
	}
	root := t.TempDir()
	if out, err := exec.Command("tar", "-xpf", filepath.Join(ctx, "rootfs.tar"), "-C", root, "--numeric-owner").CombinedOutput(); err != nil {
		t.Fatalf("unpack rootfs.tar: %v\n%s", err, out)
	}
	assertStatic(t, filepath.Join(root, img.entrypoint[0]))

	args := append(append([]string{}, img.cmd...), "--listen=127.0.0.1:0", "--allow-private-destinations", "--operator-token="+servertest.Token)
	cmd := exec.Command(img.entrypoint[0], args...)
	cmd.Dir = img.workdir
	cmd.Env = []string{}
	for k, v := range img.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
	}
	p := runProcess(t, cmd)

	p.Tenant("acme")
	ep := p.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
	rc.Trust(ep.Secret)
	ev := p.Publish("acme", "sandbox", client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]string{"by": "the image"})})
	select {
	case r := <-rc.Arrived():
		if r.ID != ev.ID || r.Valid != nil {
			t.Fatalf("the receiver got %s (signature: %v), want %s", r.ID, r.Valid, ev.ID)
		}
	case <-time.After(30 * time.Second):
		ds := p.Deliveries("acme", "sandbox", nil)
		t.Fatalf("no delivery over HTTPS within 30s (deliveries: %+v)\n%s", ds, p.stderr.String())
	}

	// What Herald wrote is its user's, in the image's state directory.
	db := filepath.Join(root, img.env["HERALD_DATABASE"])
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatalf("the database is not where the image's HERALD_DATABASE says: %v", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
		t.Errorf("%s belongs to %d:%d, want the image's user %d:%d", img.env["HERALD_DATABASE"], st.Uid, st.Gid, uid, gid)
	}
	if !strings.HasPrefix(img.env["HERALD_DATABASE"], img.volumes[0]+"/") {
		t.Errorf("the database %s is outside the image's volume %s", img.env["HERALD_DATABASE"], img.volumes[0])
	}
}

// imageUser reads USER uid:gid, which must be numeric and not root.
func imageUser(t *testing.T, user string) (uint32, uint32) {
	t.Helper()
	u, g, _ := strings.Cut(user, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil || uid == 0 || gid == 0 {
		t.Fatalf("Containerfile: USER %q, want numeric uid:gid, not root (Kubernetes' runAsNonRoot checks numbers)", user)
	}
	return uint32(uid), uint32(gid)
}

// assertStatic fails unless the binary needs no dynamic loader or library.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s is dynamically linked (%s); build it with CGO_ENABLED=0", path, p.Type)
		}
	}
}
