package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/server/servertest"
)

// BenchmarkPublishSingle publishes one event per call through the real
// handler on a real SQLite store, to one endpoint, with the event the load
// harness sends (a catalog type, so the schema check is paid): what a
// platform's single publish costs Herald's API, store write included.
// Deliveries stay pending (servertest.Handler does not deliver).
func BenchmarkPublishSingle(b *testing.B) {
	h := servertest.Handler(b)
	call := func(method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+servertest.Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Herald-Tenant", "acme")
		req.Header.Set("Herald-Environment", "sandbox")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := call(http.MethodPost, "/v1/tenants", []byte(`{"id":"acme","name":"Acme"}`)); w.Code != http.StatusCreated {
		b.Fatalf("create the tenant: %d %s", w.Code, w.Body)
	}
	if w := call(http.MethodPost, "/v1/endpoints", []byte(`{"url":"http://127.0.0.1:9/hook"}`)); w.Code != http.StatusCreated {
		b.Fatalf("create the endpoint: %d %s", w.Code, w.Body)
	}
	body := func(seq int) []byte {
		s := strconv.Itoa(seq)
		return []byte(`{"type":"verification.approved","data":{"t":1733456789000000000,"s":` + s +
			`,"status":"approved","decision":{"result":"approved","reasons":[],"result_code":"R100","result_text":"Verified"},` +
			`"checks":[{"name":"document","result":"clear","score":0.98},{"name":"liveness","result":"clear","score":0.99},{"name":"face_match","result":"clear","score":0.94}],` +
			`"risk_score":8,"reviewed_by":"auto","workflow":{"id":"wf_basic_kyc","name":"Basic KYC"},"user_id":"u-` + s + `"}}`)
	}
	cpu0 := processCPU()
	b.ReportAllocs()
	b.SetParallelism(16) // 32 publishers on two cores, as the harness's single shape
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if w := call(http.MethodPost, "/v1/events", body(i)); w.Code != http.StatusAccepted {
				b.Errorf("publish: %d %s", w.Code, w.Body)
				return
			}
		}
	})
	// The process's CPU time (user and system, every goroutine: the
	// handler's and the store's writer's) per publish. On a shared machine
	// the wall time per publish is the neighbours' load; this is Herald's
	// cost.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
