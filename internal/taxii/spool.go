package taxii

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/inthreat/taxii-server/internal/admit"
)

// A page is read from the store into a spool, and only then written to the
// client. The store's read transaction, and the pooled database connection
// under it, therefore last as long as reading the rows, however slowly the
// client reads: a stalled client holds a buffer or a temporary file, never the
// database, and SQLite's WAL is not pinned by its snapshot. (Per-write
// deadlines were the alternative; they would still lend the connection to the
// slowest client for up to the deadline on every write.)
//
// The spool keeps the page in memory in fixed chunks taken from one server-wide
// budget (TAXII_PAGE_BUFFER_MEMORY), so the memory in flight is bounded however
// many pages are out; past the budget, the rest of a page goes to an unlinked
// temporary file. A page held in memory costs one copy of its bytes, and no
// chunk is ever copied again, which keeps a full pull near the database's read
// speed. While the page is written, each write must make progress within
// PageWriteTimeout, so a stalled client gives its buffer back.
const spoolChunk = 64 << 10

// chunks are recycled: a busy server would otherwise allocate its page budget
// again and again.
var chunkPool = sync.Pool{New: func() any { return new([spoolChunk]byte) }}

type spool struct {
	budget *admit.Bytes
	chunks []*[spoolChunk]byte
	last   int // bytes used in the last chunk
	file   *os.File
	linked bool // the file still has its name
	fw     *bufio.Writer
	size   int64
}

func newSpool(budget *admit.Bytes) *spool { return &spool{budget: budget} }

// Write appends p to the page.
func (s *spool) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if s.file != nil {
			m, err := s.fw.Write(p)
			s.size += int64(m)
			return n - len(p) + m, err
		}
		if len(s.chunks) > 0 && s.last < spoolChunk {
			c := copy(s.chunks[len(s.chunks)-1][s.last:], p)
			s.last += c
			s.size += int64(c)
			p = p[c:]
			continue
		}
		if !s.budget.TryAcquire(spoolChunk) {
			if err := s.spill(); err != nil {
				return n - len(p), err
			}
			continue
		}
		s.chunks = append(s.chunks, chunkPool.Get().(*[spoolChunk]byte))
		s.last = 0
	}
	return n, nil
}

// WriteByte appends one byte.
func (s *spool) WriteByte(c byte) error {
	if s.file != nil {
		s.size++
		return s.fw.WriteByte(c)
	}
	if s.file == nil && len(s.chunks) > 0 && s.last < spoolChunk {
		s.chunks[len(s.chunks)-1][s.last] = c
		s.last++
		s.size++
		return nil
	}
	_, err := s.Write([]byte{c})
	return err
}

// WriteString appends str.
func (s *spool) WriteString(str string) (int, error) {
	if s.file != nil {
		n, err := s.fw.WriteString(str)
		s.size += int64(n)
		return n, err
	}
	if s.file == nil && len(s.chunks) > 0 && spoolChunk-s.last >= len(str) {
		copy(s.chunks[len(s.chunks)-1][s.last:], str)
		s.last += len(str)
		s.size += int64(len(str))
		return len(str), nil
	}
	return s.Write([]byte(str))
}

// spill moves the rest of the page to a temporary file, removed at once so
// that nothing is left behind even if the process dies.
func (s *spool) spill() error {
	f, err := os.CreateTemp("", "taxii-page-*")
	if err != nil {
		return err
	}
	// On unix the open file lives on without its name; elsewhere release removes it.
	s.linked = os.Remove(f.Name()) != nil
	s.file = f
	s.fw = bufio.NewWriterSize(f, spoolChunk)
	return nil
}

// writeTo sends the page to w. Each write must finish within timeout (0: no
// limit), as far as w supports write deadlines.
func (s *spool) writeTo(w http.ResponseWriter, timeout time.Duration) error {
	rc := http.NewResponseController(w)
	deadlines := timeout > 0
	arm := func() {
		if deadlines && rc.SetWriteDeadline(time.Now().Add(timeout)) != nil {
			deadlines = false // not supported by w: no deadline
		}
	}
	for i, c := range s.chunks {
		b := c[:]
		if i == len(s.chunks)-1 {
			b = c[:s.last]
		}
		arm()
		if _, err := w.Write(b); err != nil {
			return &clientWriteError{err}
		}
	}
	if s.file != nil {
		if err := s.fw.Flush(); err != nil {
			return err
		}
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		buf := chunkPool.Get().(*[spoolChunk]byte)
		defer chunkPool.Put(buf)
		for {
			n, err := s.file.Read(buf[:])
			if n > 0 {
				arm()
				if _, werr := w.Write(buf[:n]); werr != nil {
					return &clientWriteError{werr}
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
	}
	if deadlines {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	return nil
}

// reset empties the spool for another use (an error answer instead of the page).
func (s *spool) reset() {
	s.release()
	s.size = 0
}

// release gives the memory back to the budget and drops the file.
func (s *spool) release() {
	for _, c := range s.chunks {
		chunkPool.Put(c)
	}
	s.budget.Release(int64(len(s.chunks)) * spoolChunk)
	s.chunks, s.last = nil, 0
	if s.file != nil {
		_ = s.file.Close()
		if s.linked {
			_ = os.Remove(s.file.Name())
		}
		s.file, s.fw, s.linked = nil, nil, false
	}
}
