package stix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Kinds of decoding errors, for errors.Is on *DecodeError and *ElementError.
var (
	ErrNotJSON         = errors.New("not JSON")
	ErrTruncated       = errors.New("truncated JSON")
	ErrNotEnvelope     = errors.New("not a TAXII envelope")
	ErrObjectsNotArray = errors.New("objects is not an array")
	ErrNotObject       = errors.New("not a JSON object")
	ErrInvalidUTF8     = errors.New("invalid UTF-8")
	ErrLimit           = errors.New("limit exceeded")
)

// DecodeError is fatal: the input cannot be read further. Err is one of the
// Err* kinds above, or the reader's own error.
type DecodeError struct {
	Offset int64 // bytes from the start of the input
	Line   int   // 1-based
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("line %d (offset %d): %s", e.Line, e.Offset, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ElementError reports one unusable element (not an object, over a limit,
// invalid UTF-8, a malformed NDJSON line); Next can be called again.
type ElementError struct {
	ID     string // the element's id when it can be read from its first bytes, else ""
	Index  int
	Offset int64
	Line   int
	Reason string
	Err    error

	envelope bool
}

func (e *ElementError) Error() string {
	name := fmt.Sprintf("object %d", e.Index+1) // 1-based, as a person counts; objects[i] below is a JSON index
	if e.envelope {
		name = fmt.Sprintf("objects[%d]", e.Index)
	}
	return fmt.Sprintf("%s (line %d, offset %d): %s", name, e.Line, e.Offset, e.Reason)
}

func (e *ElementError) Unwrap() error { return e.Err }

type decState uint8

const (
	stTop          decState = iota // before a top-level value
	stArray                        // inside an array of objects
	stAfterObjects                 // after a container's objects array, in its other members
)

// Decoder streams STIX objects out of a bundle, a TAXII envelope, a JSON
// array of objects, single objects, or newline-delimited objects (any
// sequence of these). Only one object is held in memory at a time.
type Decoder struct {
	r        io.Reader
	lim      Limits
	envelope bool

	buf     []byte
	pos     int
	end     int
	base    int64 // input offset of buf[0]
	line    int
	afterNL bool // the last skipWS passed a newline
	eof     bool
	readErr error

	st      decState
	index   int
	fatal   error
	started bool

	// the current top-level object
	container   bool // its objects array is being (or was) streamed
	topType     string
	typeSeen    bool
	objectsSeen bool
	topProps    int
	arrFirst    bool
	topArray    bool

	// capture of the current object's bytes
	capOn    bool
	capStart int
	capBuf   []byte
	capSize  int
	capOver  bool

	// an envelope's paging members (NewEnvelopeDecoder)
	more bool
	next string

	// scanner state for one value
	stack     []byte
	props     []int
	violation *ElementError
}

// NewDecoder returns a Decoder reading any supported container from r.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	return &Decoder{r: r, lim: lim.normalized(), buf: make([]byte, 64<<10), line: 1}
}

// NewEnvelopeDecoder returns a Decoder that accepts exactly one TAXII
// envelope (as the add-objects endpoint requires): a JSON object without a
// "type", whose "objects", when present, is an array; an envelope without
// objects holds none. Anything else is a *DecodeError.
func NewEnvelopeDecoder(r io.Reader, lim Limits) *Decoder {
	d := NewDecoder(r, lim)
	d.envelope = true
	return d
}

// Next returns the next object's bytes exactly as received (a new slice the
// caller owns) and its index in the input, counting from 0 across the whole
// input. At the end it returns io.EOF. An *ElementError concerns one element
// only: call Next again. Any other error is final and is returned again by
// later calls.
func (d *Decoder) Next() ([]byte, int, error) {
	if d.fatal != nil {
		return nil, d.index, d.fatal
	}
	for {
		var raw []byte
		var done bool
		var err error
		switch d.st {
		case stTop:
			raw, done, err = d.nextTop()
		case stArray:
			raw, done, err = d.nextInArray()
		case stAfterObjects:
			raw, done, err = d.topMembers(false)
		}
		if err != nil {
			var ee *ElementError
			if errors.As(err, &ee) {
				return nil, ee.Index, err
			}
			if err != io.EOF {
				d.fatal = err
			}
			return nil, d.index, err
		}
		if done {
			return raw, d.index - 1, nil
		}
	}
}

// Page returns the more and next members of a TAXII envelope read by a
// decoder from NewEnvelopeDecoder (false and "" when absent), complete once
// Next has returned io.EOF: a server may send them after the objects.
func (d *Decoder) Page() (more bool, next string) { return d.more, d.next }

// --- buffer ---

func (d *Decoder) offset() int64 { return d.base + int64(d.pos) }

// fill reads more input, keeping buf[pos:end]. It reports whether any
// byte was added.
func (d *Decoder) fill() bool {
	if d.eof {
		return false
	}
	if d.capOn {
		d.flushCapture()
	}
	if d.pos > 0 {
		n := copy(d.buf, d.buf[d.pos:d.end])
		d.base += int64(d.pos)
		if d.capOn {
			d.capStart = 0
		}
		d.pos, d.end = 0, n
	}
	for tries := 0; tries < 100; tries++ {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		if err != nil {
			d.eof = true
			if err != io.EOF {
				d.readErr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	d.eof = true
	d.readErr = io.ErrNoProgress
	return false
}

// ensure makes n bytes available from pos if the input has them.
func (d *Decoder) ensure(n int) bool {
	for d.end-d.pos < n {
		if !d.fill() {
			return d.end-d.pos >= n
		}
	}
	return true
}

// peek returns the byte at pos, or false at the end of input.
func (d *Decoder) peek() (byte, bool) {
	if d.pos >= d.end && !d.fill() {
		return 0, false
	}
	return d.buf[d.pos], true
}

func (d *Decoder) skipWS() {
	d.afterNL = false
	for {
		for d.pos < d.end {
			switch d.buf[d.pos] {
			case '\n':
				d.line++
				d.pos++
				d.afterNL = true
			case ' ', '\t', '\r':
				d.pos++
			default:
				return
			}
		}
		if !d.fill() {
			return
		}
	}
}

// --- capture ---

func (d *Decoder) startCapture() {
	d.capOn, d.capStart, d.capSize, d.capOver = true, d.pos, 0, false
	d.capBuf = d.capBuf[:0]
}

func (d *Decoder) flushCapture() {
	seg := d.buf[d.capStart:d.pos]
	d.capSize += len(seg)
	if d.capSize > d.lim.MaxObjectSize {
		d.capOver = true
	}
	if !d.capOver {
		d.capBuf = append(d.capBuf, seg...)
	}
	d.capStart = d.pos
}

func (d *Decoder) stopCapture() {
	d.capOn = false
	if cap(d.capBuf) > 1<<20 {
		d.capBuf = nil // do not pin one large object's memory
	}
}

// finishCapture returns the captured bytes (a new slice), or nil when the
// object was over the size limit.
func (d *Decoder) finishCapture() []byte {
	var out []byte
	if len(d.capBuf) == 0 && d.capSize == 0 {
		d.capSize = d.pos - d.capStart
		if d.capSize <= d.lim.MaxObjectSize {
			out = bytes.Clone(d.buf[d.capStart:d.pos])
		} else {
			d.capOver = true
		}
	} else {
		d.flushCapture()
		if !d.capOver {
			out = bytes.Clone(d.capBuf)
		}
	}
	d.stopCapture()
	return out
}

// --- errors ---

// syntaxErr builds the fatal error for malformed input at the current position.
func (d *Decoder) syntaxErr(format string, args ...any) *DecodeError {
	e := &DecodeError{Offset: d.offset(), Line: d.line, Err: ErrNotJSON}
	what := fmt.Sprintf(format, args...)
	switch {
	case d.readErr != nil && d.pos >= d.end:
		e.Err = d.readErr
		e.Reason = "reading input: " + d.readErr.Error()
	case d.pos >= d.end && d.eof:
		e.Err = ErrTruncated
		e.Reason = "truncated JSON: the input ends inside a value"
	default:
		e.Reason = "invalid JSON: " + what
	}
	return e
}

func (d *Decoder) fatalErr(kind error, format string, args ...any) *DecodeError {
	return &DecodeError{Offset: d.offset(), Line: d.line, Reason: fmt.Sprintf(format, args...), Err: kind}
}

func (d *Decoder) describe() string {
	c, ok := d.peek()
	if !ok {
		return "end of input"
	}
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// --- top level ---

func (d *Decoder) nextTop() ([]byte, bool, error) {
	if !d.started && d.ensure(3) && bytes.HasPrefix(d.buf[d.pos:d.end], []byte("\xef\xbb\xbf")) {
		d.pos += 3 // a UTF-8 byte order mark, as some editors write
	}
	d.skipWS()
	c, ok := d.peek()
	if !ok {
		if d.readErr != nil {
			return nil, false, d.syntaxErr("")
		}
		if d.envelope && !d.started {
			return nil, false, d.fatalErr(ErrNotJSON, `the body is empty; expected a TAXII envelope {"objects": [...]}`)
		}
		return nil, false, io.EOF
	}
	if d.envelope && d.started {
		return nil, false, d.fatalErr(ErrNotJSON, "unexpected data after the envelope")
	}
	d.started = true
	switch c {
	case '[':
		if d.envelope {
			return nil, false, d.fatalErr(ErrNotEnvelope, `the body is a JSON array; expected a TAXII envelope {"objects": [...]}`)
		}
		d.pos++
		d.st, d.arrFirst, d.topArray = stArray, true, true
		return nil, false, nil
	case '{':
		return d.startTopObject()
	}
	if d.envelope {
		return nil, false, d.fatalErr(ErrNotJSON, "the body is not JSON: unexpected %s at the start", d.describe())
	}
	return nil, false, d.fatalErr(ErrNotJSON, "the input is not STIX JSON: unexpected %s where an object, array, bundle or envelope should start", d.describe())
}

func (d *Decoder) startTopObject() ([]byte, bool, error) {
	d.container, d.topType, d.typeSeen, d.objectsSeen, d.topProps = false, "", false, false, 0
	d.violation = nil
	d.startCapture()
	d.pos++ // {
	return d.topMembers(true)
}

// topMembers reads the members of a top-level object until it ends or its
// objects array starts. Outside container mode the object's bytes are being
// captured, since it may turn out to be a single STIX object.
func (d *Decoder) topMembers(first bool) ([]byte, bool, error) {
	startLine, startIndex := d.line, d.index
	raw, done, err := d.topMembersInner(first)
	if err == nil || d.container || d.envelope {
		return raw, done, err
	}
	var de *DecodeError
	if !errors.As(err, &de) || (de.Err != ErrNotJSON && de.Err != ErrTruncated) {
		return raw, done, err
	}
	// A malformed single-line object (NDJSON): report it and go on with the
	// next line. A value broken across lines cannot be resynchronised.
	atLineStart := d.line == startLine+1 && d.atLineStartBrace()
	if d.line != startLine && !atLineStart {
		return raw, done, err
	}
	d.stopCapture()
	if !atLineStart {
		d.skipLine()
	}
	d.st = stTop
	d.index = startIndex + 1
	return nil, false, &ElementError{Index: startIndex, Offset: de.Offset, Line: de.Line, Reason: de.Reason, Err: de.Err}
}

// atLineStartBrace reports whether pos is at a '{' preceded on its line only
// by whitespace: a truncated NDJSON line runs into the next object.
func (d *Decoder) atLineStartBrace() bool {
	c, ok := d.peek()
	return ok && c == '{' && d.afterNL
}

func (d *Decoder) skipLine() {
	for {
		if i := bytes.IndexByte(d.buf[d.pos:d.end], '\n'); i >= 0 {
			d.pos += i + 1
			d.line++
			return
		}
		d.pos = d.end
		if !d.fill() {
			return
		}
	}
}

func (d *Decoder) topMembersInner(first bool) ([]byte, bool, error) {
	for {
		d.skipWS()
		c, ok := d.peek()
		if !ok {
			return nil, false, d.syntaxErr("")
		}
		if c == '}' {
			d.pos++
			return d.finishTop()
		}
		if !first {
			if c != ',' {
				return nil, false, d.syntaxErr("unexpected %s, expected ',' or '}'", d.describe())
			}
			d.pos++
			d.skipWS()
		}
		first = false
		if c, ok = d.peek(); !ok || c != '"' {
			return nil, false, d.syntaxErr("unexpected %s, expected a property name", d.describe())
		}
		key, err := d.readString(true)
		if err != nil {
			return nil, false, err
		}
		d.topProps++
		if d.topProps > d.lim.MaxProperties && d.violation == nil {
			d.violation = d.limitViolation("more than %d properties in one object", d.lim.MaxProperties)
		}
		d.skipWS()
		if c, ok = d.peek(); !ok || c != ':' {
			return nil, false, d.syntaxErr("unexpected %s, expected ':'", d.describe())
		}
		d.pos++
		d.skipWS()
		switch key {
		case "objects":
			if d.objectsSeen {
				return nil, false, d.fatalErr(ErrNotJSON, "duplicate objects property")
			}
			d.objectsSeen = true
			c, _ = d.peek()
			if c == '[' && (!d.typeSeen || d.topType == "bundle") {
				if err := d.containerViolation(); err != nil {
					return nil, false, err
				}
				d.stopCapture()
				d.container = true
				d.pos++
				d.st, d.arrFirst, d.topArray = stArray, true, false
				return nil, false, nil
			}
			if d.envelope || d.typeSeen && d.topType == "bundle" {
				return nil, false, d.fatalErr(ErrObjectsNotArray, "objects is not an array")
			}
		case "more":
			if c, _ = d.peek(); d.envelope && (c == 't' || c == 'f') {
				d.more = c == 't' // scanValue below checks the literal
			}
		case "next":
			if c, _ = d.peek(); d.envelope && c == '"' {
				n, err := d.readString(true)
				if err != nil {
					return nil, false, err
				}
				d.next = n
				continue
			}
		case "type":
			if c, _ = d.peek(); c == '"' {
				t, err := d.readString(true)
				if err != nil {
					return nil, false, err
				}
				d.topType, d.typeSeen = t, true
				if d.envelope {
					return nil, false, d.fatalErr(ErrNotEnvelope, `the body has "type": %s; expected a TAXII envelope {"objects": [...]}`, quoteShort(t))
				}
				if d.container && t != "bundle" {
					return nil, false, d.fatalErr(ErrNotEnvelope, "an object of type %s holds an objects array: neither a bundle nor a TAXII envelope", quoteShort(t))
				}
				continue
			}
		}
		if err := d.scanValue(1); err != nil {
			return nil, false, err
		}
	}
}

// finishTop handles the end of a top-level object.
func (d *Decoder) finishTop() ([]byte, bool, error) {
	d.st = stTop
	if d.container {
		return nil, false, d.containerViolation()
	}
	if d.envelope {
		// Every property of a TAXII envelope is optional (spec 3.7): without
		// objects it is an empty envelope, the {} this server itself answers
		// for an empty page. A top-level "type" was refused above. Invalid
		// UTF-8 in its other members makes the body malformed.
		d.stopCapture()
		return nil, false, d.containerViolation()
	}
	if d.typeSeen && d.topType == "bundle" {
		d.stopCapture()
		if d.objectsSeen {
			return nil, false, d.fatalErr(ErrObjectsNotArray, "bundle objects is not an array")
		}
		return nil, false, nil // an empty bundle
	}
	return d.finishElement()
}

// finishElement turns the captured object into Next's result.
func (d *Decoder) finishElement() ([]byte, bool, error) {
	idx := d.index
	d.index++
	// The id, when the object's first bytes are still at hand, names it in errors.
	head := d.capBuf
	if d.capSize == 0 {
		head = d.buf[d.capStart:d.pos]
	}
	id := sniffID(head)
	raw := d.finishCapture()
	if d.violation != nil {
		v := d.violation
		d.violation = nil
		v.Index, v.envelope, v.ID = idx, d.envelope, id
		return nil, false, v
	}
	if raw == nil {
		return nil, false, &ElementError{ID: id, Index: idx, Offset: d.offset(), Line: d.line, Err: ErrLimit, envelope: d.envelope,
			Reason: fmt.Sprintf("the object has %d bytes: larger than %d bytes, the limit for one object", d.capSize, d.lim.MaxObjectSize)}
	}
	return raw, true, nil
}

// containerViolation turns a limit or UTF-8 problem in a container's own
// members into a fatal error: it is not any one object's fault.
func (d *Decoder) containerViolation() error {
	v := d.violation
	if v == nil {
		return nil
	}
	d.violation = nil
	return &DecodeError{Offset: v.Offset, Line: v.Line, Reason: v.Reason, Err: v.Err}
}

func (d *Decoder) limitViolation(format string, args ...any) *ElementError {
	return &ElementError{Offset: d.offset(), Line: d.line, Err: ErrLimit, Reason: fmt.Sprintf(format, args...)}
}

// nextInArray reads the next element of an array of objects.
func (d *Decoder) nextInArray() ([]byte, bool, error) {
	d.skipWS()
	c, ok := d.peek()
	if !ok {
		return nil, false, d.syntaxErr("")
	}
	if c == ']' {
		d.pos++
		if d.topArray {
			d.st = stTop
			return nil, false, nil
		}
		d.st = stAfterObjects
		return nil, false, nil
	}
	if !d.arrFirst {
		if c != ',' {
			return nil, false, d.syntaxErr("unexpected %s, expected ',' or ']'", d.describe())
		}
		d.pos++
		d.skipWS()
		if c, ok = d.peek(); !ok {
			return nil, false, d.syntaxErr("")
		}
	}
	d.arrFirst = false
	d.violation = nil
	if c != '{' {
		idx := d.index
		d.index++
		off, line := d.offset(), d.line
		if err := d.scanValue(0); err != nil {
			return nil, false, err
		}
		d.violation = nil
		return nil, false, &ElementError{Index: idx, Offset: off, Line: line, Err: ErrNotObject, envelope: d.envelope,
			Reason: "not a JSON object"}
	}
	d.startCapture()
	if err := d.scanValue(0); err != nil {
		d.stopCapture()
		return nil, false, err
	}
	return d.finishElement()
}

// --- value scanner ---

// scanValue scans one JSON value at pos; depth is the nesting of its parent.
// Limit breaches and invalid UTF-8 are recorded in d.violation; syntax
// errors are returned.
func (d *Decoder) scanValue(depth int) error {
	d.stack = d.stack[:0]
	d.props = d.props[:0]
	for {
		// A value is expected here.
		d.skipWS()
		c, ok := d.peek()
		if !ok {
			return d.syntaxErr("")
		}
		switch {
		case c == '{' || c == '[':
			if depth+len(d.stack)+1 > d.lim.MaxDepth {
				if d.violation == nil {
					d.violation = d.limitViolation("nested deeper than %d levels", d.lim.MaxDepth)
				}
				if err := d.skipNested(); err != nil {
					return err
				}
				break
			}
			d.pos++
			d.stack = append(d.stack, c)
			d.props = append(d.props, 0)
			d.skipWS()
			n, ok := d.peek()
			if !ok {
				return d.syntaxErr("")
			}
			if c == '{' {
				if n == '}' {
					d.pos++
					d.pop()
					break
				}
				if err := d.scanKey(); err != nil {
					return err
				}
				continue
			}
			if n == ']' {
				d.pos++
				d.pop()
				break
			}
			continue
		case c == '"':
			if _, err := d.readString(false); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if err := d.scanNumber(); err != nil {
				return err
			}
		case c == 't':
			if err := d.scanWord("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := d.scanWord("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := d.scanWord("null"); err != nil {
				return err
			}
		default:
			return d.syntaxErr("unexpected %s, expected a JSON value", d.describe())
		}
		// After a value: close containers or move to the next member.
		for {
			if len(d.stack) == 0 {
				return nil
			}
			d.skipWS()
			c, ok := d.peek()
			if !ok {
				return d.syntaxErr("")
			}
			top := d.stack[len(d.stack)-1]
			if c == ',' {
				d.pos++
				if top == '{' {
					d.skipWS()
					if err := d.scanKey(); err != nil {
						return err
					}
				}
				break
			}
			if top == '{' && c == '}' || top == '[' && c == ']' {
				d.pos++
				d.pop()
				continue
			}
			if top == '{' {
				return d.syntaxErr("unexpected %s, expected ',' or '}'", d.describe())
			}
			return d.syntaxErr("unexpected %s, expected ',' or ']'", d.describe())
		}
	}
}

func (d *Decoder) pop() {
	d.stack = d.stack[:len(d.stack)-1]
	d.props = d.props[:len(d.props)-1]
}

// scanKey reads `"key" :` inside an object and counts the property.
func (d *Decoder) scanKey() error {
	c, ok := d.peek()
	if !ok {
		return d.syntaxErr("")
	}
	if c != '"' {
		return d.syntaxErr("unexpected %s, expected a property name", d.describe())
	}
	if _, err := d.readString(false); err != nil {
		return err
	}
	i := len(d.props) - 1
	d.props[i]++
	if d.props[i] > d.lim.MaxProperties && d.violation == nil {
		d.violation = d.limitViolation("more than %d properties in one object", d.lim.MaxProperties)
	}
	d.skipWS()
	if c, ok = d.peek(); !ok || c != ':' {
		return d.syntaxErr("unexpected %s, expected ':'", d.describe())
	}
	d.pos++
	return nil
}

// skipNested passes over an object or array nested too deep, keeping only
// a bracket count so that memory stays flat whatever the depth.
func (d *Decoder) skipNested() error {
	n := 0
	for {
		c, ok := d.peek()
		if !ok {
			return d.syntaxErr("")
		}
		switch c {
		case '"':
			if _, err := d.readString(false); err != nil {
				return err
			}
			continue
		case '{', '[':
			n++
		case '}', ']':
			n--
		case '\n':
			d.line++
		}
		d.pos++
		if n == 0 {
			return nil
		}
	}
}

func (d *Decoder) scanWord(w string) error {
	if !d.ensure(len(w)) || string(d.buf[d.pos:d.pos+len(w)]) != w {
		if d.end-d.pos < len(w) && d.eof && bytes.HasPrefix([]byte(w), d.buf[d.pos:d.end]) {
			d.pos = d.end
			return d.syntaxErr("")
		}
		return d.syntaxErr("invalid literal, expected %s", w)
	}
	d.pos += len(w)
	return nil
}

func (d *Decoder) scanNumber() error {
	digits := func() int {
		n := 0
		for {
			c, ok := d.peek()
			if !ok || c < '0' || c > '9' {
				return n
			}
			d.pos++
			n++
		}
	}
	if c, _ := d.peek(); c == '-' {
		d.pos++
	}
	c, ok := d.peek()
	switch {
	case !ok:
		return d.syntaxErr("")
	case c == '0':
		d.pos++
	case c >= '1' && c <= '9':
		digits()
	default:
		return d.syntaxErr("invalid number")
	}
	if c, ok = d.peek(); ok && c == '.' {
		d.pos++
		if digits() == 0 {
			if _, ok := d.peek(); !ok {
				return d.syntaxErr("")
			}
			return d.syntaxErr("invalid number: digit expected after '.'")
		}
	}
	if c, ok = d.peek(); ok && (c == 'e' || c == 'E') {
		d.pos++
		if c, ok = d.peek(); ok && (c == '+' || c == '-') {
			d.pos++
		}
		if digits() == 0 {
			if _, ok := d.peek(); !ok {
				return d.syntaxErr("")
			}
			return d.syntaxErr("invalid number: digit expected in exponent")
		}
	}
	return nil
}

func unescape(e byte) byte {
	switch e {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return e
}

// strPlain marks bytes that need no attention inside a string.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// readString consumes a JSON string at pos ('"'). With decode it returns
// the decoded value (used for top-level keys and "type"); invalid UTF-8 is
// then fatal, otherwise it is an element violation.
func (d *Decoder) readString(decode bool) (string, error) {
	d.pos++ // opening quote
	var out []byte
	for {
		start := d.pos
		for d.pos < d.end && strPlain[d.buf[d.pos]] {
			d.pos++
		}
		if decode {
			out = append(out, d.buf[start:d.pos]...)
		}
		if d.pos >= d.end {
			if !d.fill() {
				return "", d.syntaxErr("")
			}
			continue
		}
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(out), nil
		case c == '\\':
			if !d.ensure(2) {
				d.pos = d.end
				return "", d.syntaxErr("")
			}
			e := d.buf[d.pos+1]
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				if decode {
					out = append(out, unescape(e))
				}
				d.pos += 2
			case 'u':
				if !d.ensure(6) {
					d.pos = d.end
					return "", d.syntaxErr("")
				}
				r, ok := hex4(d.buf, d.pos+2)
				if !ok {
					return "", d.syntaxErr("invalid \\u escape")
				}
				d.pos += 6
				if decode {
					out = utf8.AppendRune(out, r)
				}
			default:
				return "", d.syntaxErr("invalid escape '\\%c' in a string", e)
			}
		case c < 0x20:
			return "", d.syntaxErr("control character 0x%02x in a string (must be escaped)", c)
		default: // non-ASCII
			if !d.ensure(utf8.UTFMax) && d.pos >= d.end {
				return "", d.syntaxErr("")
			}
			r, size := utf8.DecodeRune(d.buf[d.pos:d.end])
			if r == utf8.RuneError && size == 1 {
				if decode {
					return "", d.fatalErr(ErrInvalidUTF8, "invalid UTF-8 in a string")
				}
				if d.violation == nil {
					d.violation = &ElementError{Offset: d.offset(), Line: d.line, Err: ErrInvalidUTF8, Reason: "invalid UTF-8 in a string"}
				}
			}
			if decode {
				out = append(out, d.buf[d.pos:d.pos+size]...)
			}
			d.pos += size
		}
	}
}
