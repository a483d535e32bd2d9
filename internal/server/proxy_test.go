package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolveThroughTrustedProxies(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name       string
		remote     string
		hdr        map[string]string
		client     string
		scheme     string
		host       string
		keepsProto bool // X-Forwarded-Proto reaches the handler
	}{
		{"direct client, no headers", "203.0.113.5:4000", nil, "203.0.113.5", "http", "taxii.internal", false},
		{"untrusted peer cannot forge", "203.0.113.5:4000",
			map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "Forwarded": "for=1.2.3.4;proto=https;host=evil.example"},
			"203.0.113.5", "http", "taxii.internal", false},
		{"trusted proxy", "10.0.0.2:4000",
			map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "taxii.example.com"},
			"198.51.100.7", "https", "taxii.example.com", true},
		{"chain of trusted proxies, spoofed left-most hop", "10.0.0.2:4000",
			map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.0.0.9", "X-Forwarded-Proto": "http, https"},
			"198.51.100.7", "https", "taxii.internal", true},
		{"Forwarded header", "10.0.0.2:4000",
			map[string]string{"Forwarded": `for="[2001:db8::1]:4711";proto=https;host="taxii.example.com:8443"`},
			"2001:db8::1", "https", "taxii.example.com:8443", true},
		{"IPv4-mapped and IPv6 proxies", "[::ffff:10.1.2.3]:80",
			map[string]string{"X-Forwarded-For": "192.0.2.1, fd00::7"},
			"192.0.2.1", "http", "taxii.internal", true},
		{"unknown hop stops the walk", "10.0.0.2:4000",
			map[string]string{"X-Forwarded-For": "192.0.2.1, unknown, 10.0.0.3"},
			"10.0.0.3", "http", "taxii.internal", true},
		{"bad scheme and host ignored", "10.0.0.2:4000",
			map[string]string{"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.example/path?x"},
			"10.0.0.2", "http", "taxii.internal", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://taxii.internal/taxii2/", nil)
			r.RemoteAddr = c.remote
			for k, v := range c.hdr {
				r.Header.Set(k, v)
			}
			o := trusted.resolve(r)
			if o.client != c.client || o.scheme != c.scheme || o.host != c.host {
				t.Fatalf("resolved %+v, want client %s scheme %s host %s", o, c.client, c.scheme, c.host)
			}
			if r.Host != c.host {
				t.Errorf("r.Host = %s, want %s", r.Host, c.host)
			}
			if got := r.Header.Get("X-Forwarded-Proto"); (got != "") != c.keepsProto || (c.keepsProto && got != c.scheme) {
				t.Errorf("X-Forwarded-Proto seen by the handler = %q", got)
			}
			if !o.trusted {
				for _, h := range forwardingHeaders {
					if r.Header.Get(h) != "" {
						t.Errorf("%s from an untrusted peer reached the handler", h)
					}
				}
			}
		})
	}
}

func TestBaseURLBehindProxy(t *testing.T) {
	f := setup(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	_, body := f.do(t, "GET", "/taxii2/", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "taxii.example.com"})
	if want := `{"api_roots":["https://taxii.example.com/api/root/"]}`; body != want {
		t.Fatalf("discovery behind a trusted proxy: %s, want %s", body, want)
	}
	_, body = f.do(t, "GET", "/echo/", map[string]string{"X-Forwarded-For": "198.51.100.7"})
	if want := "198.51.100.7 " + f.srv.Listener.Addr().String() + " http 198.51.100.7"; body != want {
		t.Fatalf("echo: %q, want %q", body, want)
	}

	direct := setup(t, Options{})
	_, body = direct.do(t, "GET", "/taxii2/", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
	if want := `{"api_roots":["http://` + direct.srv.Listener.Addr().String() + `/api/root/"]}`; body != want {
		t.Fatalf("discovery with forged headers: %s, want %s", body, want)
	}
}
