package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// forwardingHeaders are what reverse proxies set. From a peer that is not a trusted
// proxy they are removed before any handler sees them.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"}

// trustedProxies decides which peers' forwarding headers are believed.
type trustedProxies []netip.Prefix

func (t trustedProxies) trusts(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// origin is how the client reached the server.
type origin struct {
	client  string // client IP
	scheme  string // "http" or "https"
	host    string // host[:port]
	trusted bool   // the peer is a trusted proxy
}

// resolve works out the client, scheme and host of r. When the peer is a trusted
// proxy it believes X-Forwarded-Proto / X-Forwarded-Host (the last value: the one the
// nearest proxy set), else the last element of Forwarded, and takes as client the
// right-most address of X-Forwarded-For (or Forwarded for=) that is not a trusted
// proxy. It rewrites r.Host and X-Forwarded-Proto to the result and removes the
// forwarding headers of untrusted peers, so inner code may read either safely.
func (t trustedProxies) resolve(r *http.Request) origin {
	peer := peerAddr(r.RemoteAddr)
	o := origin{client: peer.String(), scheme: "http", host: r.Host}
	if !peer.IsValid() {
		o.client = r.RemoteAddr
	}
	if r.TLS != nil {
		o.scheme = "https"
	}
	if !t.trusts(peer) {
		for _, h := range forwardingHeaders {
			r.Header.Del(h)
		}
		return o
	}
	o.trusted = true
	fwd := parseForwarded(r.Header.Values("Forwarded"))
	var last forwardedElement
	if len(fwd) > 0 {
		last = fwd[len(fwd)-1]
	}

	proto := lastListValue(r.Header.Values("X-Forwarded-Proto"))
	if proto == "" {
		proto = last.proto
	}
	if p := strings.ToLower(proto); p == "http" || p == "https" {
		o.scheme = p
	}
	host := lastListValue(r.Header.Values("X-Forwarded-Host"))
	if host == "" {
		host = last.host
	}
	if validHost(host) {
		o.host = host
	}

	var hops []string
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, v := range xff {
			hops = append(hops, strings.Split(v, ",")...)
		}
	} else {
		for _, e := range fwd {
			hops = append(hops, e.forHop)
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hopAddr(hops[i])
		if !ok {
			break // "unknown", an obfuscated name, or garbage: the hop before is the last we know
		}
		client = a
		if !t.trusts(a) {
			break
		}
	}
	o.client = client.String()

	r.Host = o.host
	r.Header.Set("X-Forwarded-Proto", o.scheme)
	return o
}

// peerAddr parses a RemoteAddr ("ip:port", or a bare IP in tests).
func peerAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// hopAddr parses one hop of X-Forwarded-For or Forwarded for=: 1.2.3.4,
// 1.2.3.4:80, 2001:db8::1, "[2001:db8::1]:80".
func hopAddr(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// lastListValue is the last element of a comma-separated header, over all its lines.
func lastListValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// validHost accepts what may go into an absolute URL as its host[:port].
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range []byte(h) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']':
		default:
			return false
		}
	}
	return true
}

// forwardedElement is one proxy's entry of a Forwarded header (RFC 7239).
type forwardedElement struct {
	forHop, proto, host string
}

// parseForwarded splits Forwarded header lines into elements, in order. Quoted
// values may hold commas and semicolons; unknown parameters are ignored.
func parseForwarded(lines []string) []forwardedElement {
	var out []forwardedElement
	for _, line := range lines {
		for _, elem := range splitQuoted(line, ',') {
			var e forwardedElement
			for _, pair := range splitQuoted(elem, ';') {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				v = strings.Trim(strings.TrimSpace(v), `"`)
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "for":
					e.forHop = v
				case "proto":
					e.proto = v
				case "host":
					e.host = v
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
