package stix

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"sync"
)

// DigestSize is the length of a content digest.
const DigestSize = sha256.Size

// Two versions of an object have the same content when their JSON values are
// equal: member order, whitespace and string escapes ("\u0041" and "A") do not
// count. Anything else does, numbers included, which compare as written
// (1.0 and 1 differ) and timestamps too (the same instant written with another
// precision is other content). The digest is SHA-256 over an unambiguous,
// order-free encoding of the parsed value (tag, length, bytes), not over the
// text, so the stores compare 32 bytes instead of re-reading stored JSON.

// Digest returns the content digest of one JSON value; an error when raw is
// not JSON this package reads.
func Digest(raw []byte) ([]byte, error) {
	doc, jerr := parseJSON(raw, Limits{}.normalized())
	if jerr != nil {
		return nil, errors.New("content digest: invalid JSON: " + jerr.msg)
	}
	return digestOf(doc), nil
}

// digesters are reused: the encoding of an object is about as long as its JSON.
var digesters = sync.Pool{New: func() any { return new(digester) }}

// digestOf digests a value parsed by parseJSON.
func digestOf(doc any) []byte {
	d := digesters.Get().(*digester)
	d.buf = d.buf[:0]
	d.value(doc)
	sum := sha256.Sum256(d.buf)
	if cap(d.buf) <= 1<<20 { // do not keep one huge object's buffer
		digesters.Put(d)
	}
	return sum[:]
}

type digester struct {
	buf []byte   // the encoding, hashed at once
	key []string // reused for sorting member names
}

// head writes a tag and a length.
func (d *digester) head(tag byte, n int) {
	d.buf = append(d.buf, tag)
	d.buf = binary.LittleEndian.AppendUint64(d.buf, uint64(n))
}

func (d *digester) str(tag byte, s string) {
	d.head(tag, len(s))
	d.buf = append(d.buf, s...)
}

func (d *digester) value(v any) {
	switch x := v.(type) {
	case map[string]any:
		d.head('{', len(x))
		start := len(d.key)
		for k := range x {
			d.key = append(d.key, k)
		}
		keys := d.key[start:]
		slices.Sort(keys)
		for _, k := range keys {
			d.str('k', k)
			d.value(x[k])
		}
		d.key = d.key[:start]
	case []any:
		d.head('[', len(x))
		for _, e := range x {
			d.value(e)
		}
	case string:
		d.str('s', x)
	case json.Number:
		d.str('n', string(x))
	case bool:
		if x {
			d.head('t', 0)
		} else {
			d.head('f', 0)
		}
	default: // nil
		d.head('z', 0)
	}
}
