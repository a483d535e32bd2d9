package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
)

// A cursor (the TAXII "next" value) is stateless and opaque:
//
//	base64url( version(1) | position(8, big-endian µs) | binding(16) | HMAC-SHA256(secret, the 25 bytes before)(32) )
//
// position is the date_added of the last row of the page; the next page is
// date_added > position, which is exact because date_added is unique in the
// store and strictly increasing in commit order. binding is a hash of what the
// cursor belongs to (collection, endpoint, object, API key, normalised match
// filters), so a cursor replayed on another query is refused with a clear
// message, and the HMAC makes both fields unforgeable. The secret comes from the
// store, so cursors survive restarts and work on every replica.
const (
	cursorVersion = 1
	bindingLen    = 16
	cursorBodyLen = 1 + 8 + bindingLen
	cursorLen     = cursorBodyLen + sha256.Size
)

type binding [bindingLen]byte

var (
	errCursorGarbled = errors.New("cursor garbled")
	errCursorForged  = errors.New("cursor forged")
	errCursorForeign = errors.New("cursor from another query")
)

type cursorCodec struct {
	secret []byte
}

func newCursorCodec(secret []byte) (cursorCodec, error) {
	if len(secret) < 16 {
		return cursorCodec{}, errors.New("taxii: cursor secret shorter than 16 bytes")
	}
	return cursorCodec{secret: append([]byte(nil), secret...)}, nil
}

func (c cursorCodec) mac(body []byte) []byte {
	m := hmac.New(sha256.New, c.secret)
	m.Write(body)
	return m.Sum(nil)
}

// encode returns the cursor for position pos under b.
func (c cursorCodec) encode(pos int64, b binding) string {
	buf := make([]byte, cursorBodyLen, cursorLen)
	buf[0] = cursorVersion
	binary.BigEndian.PutUint64(buf[1:9], uint64(pos))
	copy(buf[9:], b[:])
	buf = append(buf, c.mac(buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// decode returns the position of token, if it was issued by a server sharing
// the secret and belongs to the query bound by want.
func (c cursorCodec) decode(token string, want binding) (int64, error) {
	if len(token) != base64.RawURLEncoding.EncodedLen(cursorLen) {
		return 0, errCursorGarbled
	}
	buf, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(buf) != cursorLen || buf[0] != cursorVersion {
		return 0, errCursorGarbled
	}
	if !hmac.Equal(buf[cursorBodyLen:], c.mac(buf[:cursorBodyLen])) {
		return 0, errCursorForged
	}
	if !hmac.Equal(buf[9:cursorBodyLen], want[:]) {
		return 0, errCursorForeign
	}
	pos := int64(binary.BigEndian.Uint64(buf[1:9]))
	if pos <= 0 {
		return 0, errCursorGarbled
	}
	return pos, nil
}

// binder builds a binding from length-prefixed fields, so no two different
// field sequences hash alike.
type binder struct{ h hash.Hash }

func newBinder() *binder {
	b := &binder{h: sha256.New()}
	b.str("taxii-cursor-binding-v1")
	return b
}

func (b *binder) str(s string) *binder {
	var n [binary.MaxVarintLen64]byte
	b.h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	b.h.Write([]byte(s))
	return b
}

func (b *binder) list(l []string) *binder {
	var n [binary.MaxVarintLen64]byte
	b.h.Write(n[:binary.PutUvarint(n[:], uint64(len(l)))])
	for _, s := range l {
		b.str(s)
	}
	return b
}

func (b *binder) sum() binding {
	var out binding
	copy(out[:], b.h.Sum(nil))
	return out
}
