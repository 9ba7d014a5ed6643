package api_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/manage"
	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestAnAPIKeyCannotIssueKeysAndAScopeHoldsAtMostFifty(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		k := h.APIKey("acme", "sandbox")
		_, err := h.Client.WithToken(k.Key).CreateAPIKey(t.Context())
		if e := servertest.Refused(t, err, http.StatusForbidden); !strings.Contains(e.Detail, "cannot issue") {
			t.Fatalf("a key issuing a key: %v", e)
		}
		for range manage.MaxAPIKeys - 1 {
			servertest.Must(h.As("acme", "sandbox").CreateAPIKey(t.Context()))(t)
		}
		_, err = h.As("acme", "sandbox").CreateAPIKey(t.Context())
		servertest.Refused(t, err, http.StatusConflict)
		_, err = h.Client.CreateTenantAPIKey(t.Context(), "acme", "sandbox")
		servertest.Refused(t, err, http.StatusConflict)
		_, err = h.Client.WithToken(k.Key).RotateAPIKey(t.Context(), k.ID, nil)
		servertest.Refused(t, err, http.StatusConflict)
		// A revoked key makes room; the other environment has its own.
		servertest.Must(0, h.Client.WithToken(k.Key).RevokeAPIKey(t.Context(), k.ID))(t)
		servertest.Must(h.As("acme", "sandbox").CreateAPIKey(t.Context()))(t)
		h.APIKey("acme", "production")
	})
}

func TestEchoedInputIsCutAndHugeHeadersAreRefused(t *testing.T) {
	h := servertest.Start(t)
	long := strings.Repeat("t", 60<<10)
	r := h.Do(servertest.Call{Method: "GET", Path: "/v1/endpoints", Tenant: long, Env: "sandbox"})
	if r.Status != http.StatusNotFound || len(r.Body) > 2048 || !strings.Contains(string(r.Body), "61440 bytes") {
		t.Fatalf("%d, %d bytes: %.300s", r.Status, len(r.Body), r.Body)
	}
	r = h.Do(servertest.Call{Method: "GET", Path: "/v1/endpoints", Tenant: "acme", Env: long})
	if r.Status != http.StatusBadRequest || len(r.Body) > 4096 {
		t.Fatalf("%d, %d bytes: %.300s", r.Status, len(r.Body), r.Body)
	}
	// A value the schema refuses is not repeated whole either.
	r = h.Do(servertest.Call{Method: "POST", Path: "/v1/tenants", Body: `{"id":"` + strings.Repeat("x", 200<<10) + `","name":"x"}`})
	if r.Status != http.StatusUnprocessableEntity || len(r.Body) > 4096 {
		t.Fatalf("%d, %d bytes: %.300s", r.Status, len(r.Body), r.Body)
	}
	// A 1 MiB header is refused while it is still being sent.
	c, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		_, _ = fmt.Fprintf(c, "GET /v1/endpoints HTTP/1.1\r\nHost: x\r\nHerald-Tenant: %s\r\n\r\n", strings.Repeat("t", 1<<20))
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/1.1 431 ") {
		t.Fatalf("a 1 MiB header: %q, %v", status, err)
	}
}
