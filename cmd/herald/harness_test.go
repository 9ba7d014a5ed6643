package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The tests of this package are about the process: its flags, the master
// key file, kill -9, a cluster of binaries. What Herald does over its API is
// tested beside the packages that do it, through internal/server/servertest.

// startHeraldErr starts Herald expecting it to refuse, and returns why.
func startHeraldErr(t *testing.T, configure ...func(*serveCmd)) error {
	t.Helper()
	cmd := testServeCmd(t, configure...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := cmd.run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(string) { cancel() })
	return err
}

func testServeCmd(t *testing.T, configure ...func(*serveCmd)) serveCmd {
	cmd := serveCmd{
		databaseFlag:             databaseFlag{Database: filepath.Join(t.TempDir(), "herald.db")},
		Listen:                   "127.0.0.1:0",
		OperatorToken:            servertest.Token,
		AllowPrivateDestinations: true,
		Lease:                    time.Minute,
		RetryAfterCap:            time.Hour,
		Retention:                720 * time.Hour,
		masterKeyFlags:           masterKeyFlags{MasterKey: secrets.EncodeKey(bytes.Repeat([]byte{9}, secrets.KeySize))},
		ShutdownGrace:            5 * time.Second,
	}
	for _, f := range configure {
		f(&cmd)
	}
	return cmd
}

// startHerald runs `herald serve` as the command does (flags, master key,
// store), in this process.
func startHerald(t *testing.T, configure ...func(*serveCmd)) *servertest.Herald {
	t.Helper()
	cmd := testServeCmd(t, configure...)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- cmd.run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(addr string) { ready <- addr })
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("herald did not start: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("herald stopped with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return servertest.At(t, "http://"+addr, stop)
}
