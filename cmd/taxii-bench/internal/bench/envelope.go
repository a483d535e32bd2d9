package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/inthreat/taxii-server/internal/stix"
)

// Decoders of the client. A pull is only as fast as the slower of server and
// client, and on a small machine they share the cores: the server's own
// envelope decoder lets the figures show the server, encoding/json shows what
// a typical Go client sees.
const (
	DecoderScan = "scan"          // stix's streaming envelope decoder, the one Add Objects uses (default)
	DecoderStd  = "encoding/json" // json.Unmarshal into []json.RawMessage
)

// decodeEnvelope parses a TAXII envelope with the named decoder and calls obj
// for each element of its objects array. Either way the whole page is checked to
// be one well-formed JSON object (RFC 8259).
func (r *reader) decodeEnvelope(b []byte, obj func([]byte) error) (more bool, next string, n int, err error) {
	if r.c.decoder == DecoderStd {
		r.env.More, r.env.Next, r.env.Objects = false, "", r.env.Objects[:0]
		if err := json.Unmarshal(b, &r.env); err != nil {
			return false, "", 0, err
		}
		for _, o := range r.env.Objects {
			if err := obj(o); err != nil {
				return false, "", 0, err
			}
		}
		return r.env.More, r.env.Next, len(r.env.Objects), nil
	}
	return scanEnvelope(b, obj)
}

// scanEnvelope decodes a page with stix.NewEnvelopeDecoder: every element of
// objects must be a JSON object within the default stix limits, as a page of
// this server always is.
func scanEnvelope(b []byte, obj func([]byte) error) (more bool, next string, n int, err error) {
	d := stix.NewEnvelopeDecoder(bytes.NewReader(b), stix.Limits{})
	for {
		raw, _, err := d.Next()
		if errors.Is(err, io.EOF) {
			more, next = d.Page()
			return more, next, n, nil
		}
		if err != nil {
			return false, "", 0, err
		}
		n++
		if err := obj(raw); err != nil {
			return false, "", 0, err
		}
	}
}
