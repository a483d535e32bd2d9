// Package admit is the server's admission control: budgets of bytes, of open
// connections and of requests per key, so that slow or large requests cannot
// exhaust memory, connections or the database. A refusal is cheap and immediate;
// the caller answers it (503 or 429 with Retry-After), nothing here waits.
package admit

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
)

// Bytes is a budget of bytes shared by every request in flight. The zero
// value and nil refuse nothing held and grant nothing: use NewBytes.
type Bytes struct {
	mu   sync.Mutex
	cap  int64
	used int64
}

// NewBytes returns a budget of capacity bytes.
func NewBytes(capacity int64) *Bytes { return &Bytes{cap: capacity} }

// TryAcquire takes n bytes when that many are free, and reports whether it did.
func (b *Bytes) TryAcquire(n int64) bool {
	if b == nil || n < 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.cap {
		return false
	}
	b.used += n
	return true
}

// Release gives back n bytes taken with TryAcquire.
func (b *Bytes) Release(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// Capacity is the budget's size in bytes.
func (b *Bytes) Capacity() int64 {
	if b == nil {
		return 0
	}
	return b.cap
}

// Used is how many bytes are taken now.
func (b *Bytes) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// PerKey counts the requests in flight of each API key. A nil PerKey admits everything.
type PerKey struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// NewPerKey allows at most max requests in flight per key.
func NewPerKey(max int) *PerKey { return &PerKey{max: max, n: map[string]int{}} }

// Max is the cap per key.
func (p *PerKey) Max() int {
	if p == nil {
		return 0
	}
	return p.max
}

// Acquire admits one more request of key, or reports false when the key has
// max in flight already. release must be called once when the request ends.
func (p *PerKey) Acquire(key string) (release func(), ok bool) {
	if p == nil {
		return func() {}, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[key] >= p.max {
		return nil, false
	}
	p.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.n[key]--; p.n[key] <= 0 {
				delete(p.n, key)
			}
			p.mu.Unlock()
		})
	}, true
}

// Conns caps the open connections of a listener. A connection accepted while
// max are open is still served, so that it can be told why (503 with
// Retry-After, then closed): its requests carry Overloaded in their context.
// A connection holds its place until it closes, HTTP/2 ones with all their streams.
type Conns struct {
	max  int64
	open atomic.Int64
}

// NewConns caps the open connections at max.
func NewConns(max int) *Conns { return &Conns{max: int64(max)} }

// Open is the number of connections open now.
func (c *Conns) Open() int64 { return c.open.Load() }

// Listener counts the connections ln accepts.
func (c *Conns) Listener(ln net.Listener) net.Listener { return &countingListener{Listener: ln, c: c} }

// ConnContext is the http.Server hook that marks the requests of a connection
// accepted over the cap.
func (c *Conns) ConnContext(ctx context.Context, conn net.Conn) context.Context {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if cc, ok := conn.(*countedConn); ok && cc.over {
		return context.WithValue(ctx, overloadedKey{}, true)
	}
	return ctx
}

type overloadedKey struct{}

// Overloaded reports whether the request came on a connection accepted over the cap.
func Overloaded(ctx context.Context) bool {
	v, _ := ctx.Value(overloadedKey{}).(bool)
	return v
}

type countingListener struct {
	net.Listener
	c *Conns
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.c.open.Add(1)
	return &countedConn{Conn: conn, c: l.c, over: n > l.c.max}, nil
}

type countedConn struct {
	net.Conn
	c      *Conns
	over   bool
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.c.open.Add(-1)
	}
	return c.Conn.Close()
}
