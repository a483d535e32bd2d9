package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// Cookies. The session cookie is
//
//	keyID "." expiry (Unix seconds) "." nonce (hex) "." base64url(HMAC-SHA256(secret, "session" 0 the part before))
//
// It names the admin key, never holds it; every request looks the key up again,
// so revoking the key ends its sessions at once. The CSRF token of a session is
// HMAC(secret, "csrf" 0 nonce): stateless, bound to the session, and unknown to a
// page on another site. Before login, a random nonce in the login cookie plays
// the same part for the login form.
const (
	sessionCookie = "taxii_console"
	loginCookie   = "taxii_console_login"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

var b64 = base64.RawURLEncoding

type sessions struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	// ended holds the nonces of sessions logged out before their expiry, until it.
	// In memory, per replica: a logged-out cookie replayed against another replica
	// still works until it expires or its key is revoked (README).
	mu    sync.Mutex
	ended map[string]time.Time
}

func newSessions(secret []byte, ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{secret: secret, ttl: ttl, now: now, ended: map[string]time.Time{}}
}

func (s *sessions) mac(kind, data string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(data))
	return b64.EncodeToString(m.Sum(nil))
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// session is a verified session cookie.
type session struct {
	keyID   string
	nonce   string
	expires time.Time
}

func (s *sessions) issue(keyID string) (string, session) {
	ss := session{keyID: keyID, nonce: nonce(), expires: s.now().Add(s.ttl).Truncate(time.Second)}
	payload := keyID + "." + strconv.FormatInt(ss.expires.Unix(), 10) + "." + ss.nonce
	return payload + "." + s.mac("session", payload), ss
}

// parse verifies a session cookie: its MAC, its expiry and that it was not logged out.
func (s *sessions) parse(value string) (session, bool) {
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return session{}, false
	}
	payload, sum := value[:i], value[i+1:]
	if !hmac.Equal([]byte(sum), []byte(s.mac("session", payload))) {
		return session{}, false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || exp > math.MaxInt32*4 {
		return session{}, false
	}
	ss := session{keyID: parts[0], nonce: parts[2], expires: time.Unix(exp, 0)}
	now := s.now()
	if !now.Before(ss.expires) {
		return session{}, false
	}
	s.mu.Lock()
	_, gone := s.ended[ss.nonce]
	s.mu.Unlock()
	return ss, !gone
}

// end refuses the session from now on, on this replica.
func (s *sessions) end(ss session) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, exp := range s.ended {
		if !now.Before(exp) {
			delete(s.ended, n)
		}
	}
	s.ended[ss.nonce] = ss.expires
}

func (s *sessions) csrf(nonce string) string { return s.mac("csrf", nonce) }

func (s *sessions) loginToken(nonce string) string { return s.mac("login", nonce) }

// validToken compares a submitted token with the expected one in constant time.
func validToken(got, want string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

func (c *console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	ck := &http.Cookie{
		Name: name, Value: value, Path: Path + "/",
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	}
	if expires.IsZero() {
		ck.MaxAge = -1
	} else {
		ck.Expires = expires
		ck.MaxAge = max(1, int(expires.Sub(c.o.Now()).Seconds()))
	}
	http.SetCookie(w, ck)
}

type sessionKey struct{}

func withSession(ctx context.Context, ss session) context.Context {
	return context.WithValue(ctx, sessionKey{}, ss)
}

func sessionFrom(r *http.Request) (session, bool) {
	ss, ok := r.Context().Value(sessionKey{}).(session)
	return ss, ok
}

// requireSession lets through requests of a live session of an active admin key,
// with the key as the caller; others go to the login page (a GET) or are refused.
// Every POST must carry the session's CSRF token (form field or header): 403 without.
func (c *console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, ok := c.currentSession(r)
		var k store.APIKey
		if ok {
			var err error
			k, err = c.st.GetKey(r.Context(), ss.keyID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				ok = false
			case err != nil:
				c.fail(w, r, err)
				return
			case !k.RevokedAt.IsZero() || k.Role != store.RoleAdmin:
				ok = false
			}
		}
		if !ok {
			c.setCookie(w, r, sessionCookie, "", time.Time{})
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Path+"/login", http.StatusSeeOther)
				return
			}
			c.errorPage(w, r, http.StatusForbidden, "Your session has ended: log in again.")
			return
		}
		if r.Method == http.MethodPost && !c.csrfOK(w, r, ss) {
			c.o.Log.Warn("console: refused a form without a valid CSRF token",
				zap.String("request_id", obs.RequestID(r.Context())), zap.String("path", r.URL.Path))
			c.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from this console: reload the page and try again.")
			return
		}
		obs.FromContext(r.Context()).SetKey(k.ID, k.Name)
		ctx := auth.NewContext(r.Context(), &auth.Caller{KeyID: k.ID, Name: k.Name, Role: k.Role, Feeds: k.Feeds, Source: store.KeySource(k)})
		next.ServeHTTP(w, r.WithContext(withSession(ctx, ss)))
	})
}

func (c *console) currentSession(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	return c.sessions.parse(ck.Value)
}

// csrfOK checks the token of a POST. A multipart form (the import) carries it in
// the header, or as its first part, which the handler checks before reading the file.
func (c *console) csrfOK(w http.ResponseWriter, r *http.Request, ss session) bool {
	want := c.sessions.csrf(ss.nonce)
	if t := r.Header.Get(csrfHeader); t != "" {
		return validToken(t, want)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return true // checked by the handler on the first part
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return validToken(r.PostFormValue(csrfField), want)
}

// maxFormBytes bounds a console form other than the import upload.
const maxFormBytes = 1 << 20

func (c *console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.currentSession(r); ok {
		http.Redirect(w, r, Path+"/feeds", http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, "")
}

func (c *console) renderLogin(w http.ResponseWriter, r *http.Request, status int, keyErr string) {
	// The nonce of a login cookie already there is kept: a form re-shown after a
	// wrong key, or open in another tab, stays valid.
	n := nonce()
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == len(n) {
		if _, err := hex.DecodeString(ck.Value); err == nil {
			n = ck.Value
		}
	}
	c.setCookie(w, r, loginCookie, n, c.o.Now().Add(time.Hour))
	c.render(w, r, status, "login", page{Title: "Log in", CSRF: c.sessions.loginToken(n), Errors: fieldErrors{"key": keyErr}})
}

// login checks the admin key of the form. The key travels only in the POST body;
// the log names the key id, never the key.
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	client := obs.FromContext(r.Context()).Client()
	if c.o.LoginAllowed != nil {
		if ok, wait := c.o.LoginAllowed(client); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			c.renderLogin(w, r, http.StatusTooManyRequests, "Too many login attempts from your address: wait a minute and try again.")
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ck, err := r.Cookie(loginCookie)
	if err != nil || !validToken(r.PostFormValue(csrfField), c.sessions.loginToken(ck.Value)) {
		c.o.Log.Warn("console: refused a login form without a valid CSRF token", zap.String("client", client))
		c.errorPage(w, r, http.StatusForbidden, "This login form has expired or did not come from this console: reload the page and try again.")
		return
	}
	plain := strings.TrimSpace(r.PostFormValue("key"))
	k, err := auth.Check(r.Context(), c.st, plain, c.o.Now())
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		c.o.Log.Warn("console: login refused", zap.String("client", client), zap.String("reason", keyReason(err)))
		c.renderLogin(w, r, http.StatusUnauthorized, "This is not an active API key.")
		return
	case err != nil:
		c.fail(w, r, err)
		return
	case k.Role != store.RoleAdmin:
		c.o.Log.Warn("console: login refused: not an admin key", zap.String("client", client), zap.String("key_id", k.ID))
		c.renderLogin(w, r, http.StatusForbidden, "This key is not an admin key: only admin keys may use the console.")
		return
	}
	value, ss := c.sessions.issue(k.ID)
	c.setCookie(w, r, loginCookie, "", time.Time{})
	c.setCookie(w, r, sessionCookie, value, ss.expires)
	obs.FromContext(r.Context()).SetKey(k.ID, k.Name)
	c.o.Log.Info("console: logged in", zap.String("key_id", k.ID), zap.String("key_name", k.Name), zap.String("client", client))
	http.Redirect(w, r, Path+"/feeds", http.StatusSeeOther)
}

// keyReason is the refusal without anything that could be key material: auth's
// reasons name key ids only, but a malformed key's reason is left out entirely.
func keyReason(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "not an API key") {
		return "malformed key"
	}
	return msg
}

func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	if ss, ok := sessionFrom(r); ok {
		c.sessions.end(ss)
	}
	c.setCookie(w, r, sessionCookie, "", time.Time{})
	c.o.Log.Info("console: logged out", zap.String("key_id", caller(r).KeyID))
	http.Redirect(w, r, Path+"/login", http.StatusSeeOther)
}
