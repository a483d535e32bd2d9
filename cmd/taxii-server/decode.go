package main

import (
	"errors"
	"io"
	"os"

	"github.com/inthreat/taxii-server/internal/stix"
)

// openInput opens a file named on the command line; "-" is stdin. closeFn is never nil.
func openInput(name string, stdin io.Reader) (r io.Reader, closeFn func(), err error) {
	if name == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// decoded is one element of an input, in order: its bytes, or why the decoder refused it.
type decoded struct {
	index int
	raw   []byte
	err   error // a *stix.ElementError: only this element is lost
}

// decodeBatches hands the elements of dec to fn in order, up to size at a time; fn
// may keep the slice. It returns fn's first error, or the decoder's fatal error
// after fn has had every element read before it.
func decodeBatches(dec *stix.Decoder, size int, fn func([]decoded) error) error {
	var batch []decoded
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := fn(batch)
		batch = nil
		return err
	}
	for {
		raw, idx, err := dec.Next()
		var elemErr *stix.ElementError
		switch {
		case errors.Is(err, io.EOF):
			return flush()
		case errors.As(err, &elemErr):
			batch = append(batch, decoded{index: idx, err: elemErr})
		case err != nil:
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return err
		default:
			batch = append(batch, decoded{index: idx, raw: raw})
		}
		if len(batch) >= size {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
