package transform

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"time"
)

// workerEnv selects the worker: a Pool starts its workers by running the
// binary it is part of again (os.Executable) with this variable set to the
// worker's memory limit in bytes.
const workerEnv = "HERALD_TRANSFORM_WORKER"

// init turns the process into a transform worker when a Pool started it.
// It must run before main, and before a test binary's testing.Main, so that
// any binary that can start a pool (herald itself, and the test binaries of
// every package that builds a server) can also be its worker; an init of
// this package, which all of them import, is the one place that does (as
// docker's reexec package does for its helpers).
func init() {
	if v, ok := os.LookupEnv(workerEnv); ok {
		os.Exit(serveWorker(v, os.Stdin, os.Stdout, os.Stderr))
	}
}

// The frames between a pool and a worker: a 4-byte big-endian length, then
// that many bytes. A request is
//
//	timeout_ms u32 | max_output u32 | key [32] | source_len u32 | source | envelope
//
// and an answer is a status byte and its payload: the body (statusOK), the
// reason, a zero byte and the message (statusFailed), or the message of an
// envelope that is not JSON (statusBadInput). A worker sends statusReady,
// with no payload, once it is ready for requests.
const (
	statusOK byte = iota
	statusFailed
	statusBadInput
	statusReady
)

const requestHead = 4 + 4 + len(Key{}) + 4

// maxRequest bounds a request: the program and an envelope, which carries at
// most an event of the ingest limit (1 MiB) and its partner params, with
// room to spare; a worker refuses more rather than allocate it.
const maxRequest = 8 << 20

// request is one run: a program (by key and text) over an envelope.
type request struct {
	limits   Limits
	key      Key
	src      string
	envelope []byte
}

func (r *request) appendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(requestHead+len(r.src)+len(r.envelope)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.limits.Timeout.Milliseconds()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.limits.MaxOutput))
	dst = append(dst, r.key[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.src)))
	dst = append(dst, r.src...)
	return append(dst, r.envelope...)
}

func parseRequest(b []byte) (request, error) {
	if len(b) < requestHead {
		return request{}, errors.New("short request")
	}
	var r request
	r.limits.Timeout = time.Duration(binary.BigEndian.Uint32(b)) * time.Millisecond
	r.limits.MaxOutput = int(binary.BigEndian.Uint32(b[4:]))
	copy(r.key[:], b[8:])
	n := int(binary.BigEndian.Uint32(b[8+len(r.key):]))
	rest := b[requestHead:]
	if n > len(rest) {
		return request{}, errors.New("source longer than the request")
	}
	r.src, r.envelope = string(rest[:n]), rest[n:]
	return r, nil
}

// writeFrame writes one frame: its length, then the status and payload.
func writeFrame(w *bufio.Writer, status byte, payload ...[]byte) error {
	n := 1
	for _, p := range payload {
		n += len(p)
	}
	var head [5]byte
	binary.BigEndian.PutUint32(head[:], uint32(n))
	head[4] = status
	w.Write(head[:])
	for _, p := range payload {
		w.Write(p)
	}
	return w.Flush()
}

// readFrame reads one frame of at most limit bytes into buf (grown as
// needed) and returns it.
func readFrame(r io.Reader, buf []byte, limit int) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(head[:]))
	if n > limit {
		return nil, fmt.Errorf("a frame of %d bytes, over the limit of %d", n, limit)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read a frame: %w", err)
	}
	return buf, nil
}

// serveWorker answers requests from in on out, one at a time, until in
// ends (the pool closed it, or its process is gone). setting is the
// memory limit in bytes. The result is the process's exit code.
func serveWorker(setting string, in io.Reader, out, errOut io.Writer) int {
	memory, err := strconv.ParseInt(setting, 10, 64)
	if err != nil || memory <= 0 {
		fmt.Fprintf(errOut, "transform worker: %s=%q is not a memory limit in bytes\n", workerEnv, setting)
		return 2
	}
	limitMemory(memory)
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriterSize(out, 64<<10)
	if err := writeFrame(w, statusReady); err != nil {
		return 2
	}
	cache := NewCache(0, Limits{})
	var buf []byte
	for {
		frame, err := readFrame(r, buf, maxRequest)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(errOut, "transform worker: %v\n", err)
			return 2
		}
		buf = frame[:0]
		req, err := parseRequest(frame)
		if err != nil {
			fmt.Fprintf(errOut, "transform worker: %v\n", err)
			return 2
		}
		if err := answer(w, cache, &req); err != nil {
			return 2
		}
	}
}

// limitMemory bounds the worker's memory: the Go runtime's soft limit makes
// the collector work harder as the heap nears it, and the operating
// system's limit (setHardMemoryLimit) makes an allocation past it fail,
// which ends the process with "out of memory".
func limitMemory(memory int64) {
	debug.SetMemoryLimit(memory)
	// A runaway recursion grows the stack, not the heap; keep it well under
	// the limit so that it fails as a stack overflow rather than taking it all.
	debug.SetMaxStack(int(min(memory/4, 256<<20)))
	setHardMemoryLimit(memory)
}

// answer runs one request and writes its answer.
func answer(w *bufio.Writer, cache *Cache, req *request) error {
	p, err := cache.program(req.key, req.src)
	if err != nil {
		// It compiled when it was saved; a program that no longer does
		// (a gojq upgrade, say) is the program's failure, not Herald's.
		return writeFrame(w, statusFailed, []byte(ReasonRuntime), []byte{0}, []byte(err.Error()))
	}
	body, err := p.WithLimits(req.limits).Run(context.Background(), req.envelope)
	var te *Error
	switch {
	case err == nil:
		return writeFrame(w, statusOK, body)
	case errors.As(err, &te):
		return writeFrame(w, statusFailed, []byte(te.Reason), []byte{0}, []byte(te.Msg))
	default:
		return writeFrame(w, statusBadInput, []byte(err.Error()))
	}
}
