package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/taxii"
)

// pageHandler streams a page in two halves: the first at once, the second when release closes.
func pageHandler(started chan<- struct{}, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", taxii.MediaTypeTAXII)
		_, _ = io.WriteString(w, `{"more":false,"objects":[{"id":"indicator--1"},`)
		http.NewResponseController(w).Flush() //nolint:errcheck // the test reads what arrives
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, `{"id":"indicator--2"}]}`)
	})
}

func TestGracefulShutdownFinishesInFlightPage(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Timeouts{ReadHeaderTimeout: time.Second, ShutdownTimeout: 10 * time.Second}, zaptest.NewLogger(t),
			Listener{Name: "taxii", Listener: ln, Handler: New(Options{TAXII: pageHandler(started, release), Store: okPinger{}})})
	}()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/api/root/collections/f/objects/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-started
	cancel() // SIGTERM

	// The listener closes at once: new connections are refused while the page is in flight.
	eventually(t, 5*time.Second, "new connections still accepted during shutdown", func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) before the in-flight page was done", err)
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.body != `{"more":false,"objects":[{"id":"indicator--1"},{"id":"indicator--2"}]}` {
		t.Fatalf("in-flight page: %q, %v", r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after a clean drain: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
}

func TestShutdownTimeoutCutsSlowRequests(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Timeouts{ReadHeaderTimeout: time.Second, ShutdownTimeout: 200 * time.Millisecond}, zaptest.NewLogger(t),
			Listener{Name: "taxii", Listener: ln, Handler: pageHandler(started, release)},
			Listener{Name: "metrics", Listener: mln, Handler: MetricsHandler(http.NotFoundHandler())})
	}()
	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-started
	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "cut") {
			t.Fatalf("Serve = %v, want an error saying requests were cut", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("shutdown took %s with a 200ms timeout", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the shutdown timeout")
	}
	if err := <-clientErr; err == nil {
		t.Fatal("the cut response looked complete to the client")
	}
	if _, err := net.DialTimeout("tcp", mln.Addr().String(), 200*time.Millisecond); err == nil {
		t.Fatal("the metrics listener is still open")
	}
}

func TestServeStopsWhenAListenerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bad.Close()
	err = Serve(context.Background(), Timeouts{ReadHeaderTimeout: time.Second, ShutdownTimeout: time.Second}, zaptest.NewLogger(t),
		Listener{Name: "taxii", Listener: ln, Handler: http.NotFoundHandler()},
		Listener{Name: "metrics", Listener: bad, Handler: http.NotFoundHandler()})
	if err == nil || !strings.Contains(err.Error(), "metrics listener") {
		t.Fatalf("Serve = %v, want the metrics listener's error", err)
	}
}
