package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

// tcpProxy forwards connections to target; down cuts every connection and refuses
// new ones, the way a database restart or a network partition looks to the server.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	up    bool
	conns map[net.Conn]struct{}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, up: true, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.setUp(false) })
	return p
}

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); s.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, s); s.Close(); c.Close() }()
	}
}

func (p *tcpProxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// pgThroughProxy opens a migrated Postgres store (or an unmigrated one) whose connections go through a proxy.
func pgThroughProxy(t *testing.T, migrate bool) (*postgres.Store, *tcpProxy) {
	t.Helper()
	u, err := url.Parse(pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	p := newTCPProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	st, err := postgres.Open(context.Background(), u.String(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if migrate {
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return st, p
}

func status(t *testing.T, base, path string) int {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReadinessFollowsTheDatabase(t *testing.T) {
	st, proxy := pgThroughProxy(t, true)
	srv := httptest.NewServer(New(Options{TAXII: fakeTAXII(), Store: st, Log: zaptest.NewLogger(t)}))
	defer srv.Close()

	if got := status(t, srv.URL, "/readyz"); got != 200 {
		t.Fatalf("/readyz with the database up: %d", got)
	}
	proxy.setUp(false)
	eventually(t, 10*time.Second, "/readyz still 200 with the database down", func() bool { return status(t, srv.URL, "/readyz") == 503 })
	if got := status(t, srv.URL, "/healthz"); got != 200 {
		t.Fatalf("/healthz must not depend on the database: %d", got)
	}
	if got := status(t, srv.URL, "/readyz"); got != 503 {
		t.Fatalf("/readyz while down, asked again: %d", got)
	}
	proxy.setUp(true)
	eventually(t, 15*time.Second, "/readyz did not recover when the database came back", func() bool { return status(t, srv.URL, "/readyz") == 200 })
}

func TestReadinessNeedsTheSchema(t *testing.T) {
	st, _ := pgThroughProxy(t, false)
	srv := httptest.NewServer(New(Options{TAXII: fakeTAXII(), Store: st}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || string(b) != "database schema not migrated\n" {
		t.Fatalf("/readyz on an empty schema: %d %q", resp.StatusCode, b)
	}
}
