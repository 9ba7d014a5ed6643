package client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
)

// HandlerTransport returns a RoundTripper that serves each request with h
// in this process, without a socket: Herald's portal calls its API this
// way, and a test can call an http.Handler. Use it as the Transport of the
// http.Client given to WithHTTPClient.
//
// The handler sees the request as a server would (Host, RequestURI) and
// the request's context, and the round trip ends when that context does,
// as it would over a network. A panic in the handler is raised again in
// the caller's goroutine.
func HandlerTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	// A RoundTripper must not change the request it is given.
	sr := req.Clone(ctx)
	sr.RequestURI = req.URL.RequestURI()
	if sr.Host == "" {
		sr.Host = req.URL.Host
	}
	// A server's request URL is its path and query alone.
	sr.URL.Scheme, sr.URL.Host, sr.URL.User = "", "", nil
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	w := &memoryResponse{header: http.Header{}}
	done := make(chan any, 1)
	go func() {
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				// The handler's stack, which the panic raised again lacks.
				p = fmt.Sprintf("%v\n\n%s", p, debug.Stack())
			}
			done <- p
		}()
		defer sr.Body.Close()
		t.h.ServeHTTP(w, sr)
	}()
	select {
	case <-ctx.Done():
		// The handler sees the same context and stops on its own; what it
		// still writes goes nowhere.
		return nil, ctx.Err()
	case p := <-done:
		switch {
		case p == http.ErrAbortHandler:
			return nil, fmt.Errorf("%s %s: the handler aborted the response", req.Method, req.URL.Path)
		case p != nil:
			panic(fmt.Sprintf("client: the handler of %s %s panicked: %v", req.Method, req.URL.Path, p))
		}
	}
	return w.response(req), nil
}

// memoryResponse is an http.ResponseWriter that keeps the response.
type memoryResponse struct {
	header  http.Header
	written http.Header // the header as it was when the status was written
	status  int
	body    bytes.Buffer
}

func (w *memoryResponse) Header() http.Header { return w.header }

func (w *memoryResponse) WriteHeader(status int) {
	// Informational answers are not the response; only the first final
	// status counts, as on a connection.
	if w.status != 0 || (status >= 100 && status < 200) {
		return
	}
	w.status = status
	w.written = w.header.Clone()
}

func (w *memoryResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush lets handlers that stream (http.Flusher) run; the body is whole
// once the handler returns.
func (w *memoryResponse) Flush() {}

func (w *memoryResponse) response(req *http.Request) *http.Response {
	w.WriteHeader(http.StatusOK)
	header := w.written
	if header.Get("Content-Type") == "" && w.body.Len() > 0 {
		header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	body := w.body.Bytes()
	if req.Method == http.MethodHead {
		body = nil
	}
	return &http.Response{
		Status:     strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode: w.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
