package limit

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// BodyDeadline gives every request d to send its whole body, counted from
// when its handler starts; a body still arriving then fails to read, the
// handler answers, and the connection is closed. Once the body has been
// read to its end the deadline is lifted, so that a slow answer (a test
// send waiting for its receiver) is not cut off: the server watches the
// connection for a client that goes away, and an expired read deadline
// would look like one.
func BodyDeadline(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			// Not a connection of net/http's server (a test's recorder):
			// nothing to time.
			h.ServeHTTP(w, r)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		h.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}

// TimedOut reports whether err is a body read that ran out of time.
func TimedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
