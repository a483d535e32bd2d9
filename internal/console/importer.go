package console

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// importBatch is how many objects go to the store in one transaction, as the CLI's import.
const importBatch = 2000

// maxShownRejections bounds the rejection reasons an import summary lists.
const maxShownRejections = 20

type importData struct {
	Feeds  []store.Feed
	Source string
	Feed   string
	Result *importResult
}

type importResult struct {
	File       string   `json:"file"`
	Imported   int      `json:"imported"`
	Unchanged  int      `json:"unchanged"`
	Rejected   int      `json:"rejected"`
	Rejections []string `json:"rejections,omitempty"`
	Error      string   `json:"error,omitempty"` // the rest of the file could not be read
	Summary    string   `json:"summary"`
}

func (c *console) importPage(w http.ResponseWriter, r *http.Request, status int, d importData, errs fieldErrors) {
	feeds, err := c.st.ListFeeds(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Feeds = feeds
	if d.Source == "" {
		d.Source = "import"
	}
	if r.Header.Get("Accept") == "application/json" {
		if d.Result != nil && len(errs) == 0 {
			writeJSON(w, status, d.Result)
		} else {
			writeJSON(w, status, map[string]any{"errors": errs})
		}
		return
	}
	c.render(w, r, status, "import", page{Title: "Import", Nav: "import", Data: d, Errors: errs})
}

func (c *console) importForm(w http.ResponseWriter, r *http.Request) {
	c.importPage(w, r, http.StatusOK, importData{}, nil)
}

// importUpload streams the uploaded file into the store as it arrives: the
// multipart body is read part by part (no temporary file), decoded element by
// element, and stored in batches, as the CLI's import does. The form's fields
// come before the file, so the CSRF token (when not in the header) is checked
// before a byte of the file is read.
func (c *console) importUpload(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		c.importPage(w, r, http.StatusBadRequest, importData{}, fieldErrors{"file": "Choose a file to upload."})
		return
	}
	ss, _ := sessionFrom(r)
	checked := r.Header.Get(csrfHeader) != "" // requireSession checked it
	d := importData{Source: "import"}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.importPage(w, r, http.StatusBadRequest, d, fieldErrors{"file": "The upload was cut short: " + err.Error()})
			return
		}
		name := part.FormName()
		if !checked && name != csrfField {
			c.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from this console: reload the page and try again.")
			return
		}
		switch name {
		case csrfField:
			v, _ := readField(part)
			if !validToken(v, c.sessions.csrf(ss.nonce)) {
				c.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from this console: reload the page and try again.")
				return
			}
			checked = true
		case "source":
			d.Source, _ = readField(part)
			d.Source = strings.TrimSpace(d.Source)
		case "feed":
			d.Feed, _ = readField(part)
		case "file":
			if part.FileName() == "" {
				continue
			}
			res, ferr, err := c.ingestFile(r, part, d)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			if ferr != nil {
				c.importPage(w, r, http.StatusUnprocessableEntity, d, ferr)
				return
			}
			d.Result = res
			c.o.Log.Info("console: import", zap.String("file", res.File), zap.String("source", d.Source),
				zap.Int("imported", res.Imported), zap.Int("unchanged", res.Unchanged), zap.Int("rejected", res.Rejected))
		}
	}
	if d.Result == nil {
		c.importPage(w, r, http.StatusUnprocessableEntity, d, fieldErrors{"file": "Choose a file to upload."})
		return
	}
	c.importPage(w, r, http.StatusOK, d, nil)
}

// readField reads a small form field.
func readField(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, 4096))
	return string(b), err
}

// ingestFile decodes and stores one uploaded file. Refusals of the form come back
// as field errors; a store failure as err.
func (c *console) ingestFile(r *http.Request, file io.Reader, d importData) (*importResult, fieldErrors, error) {
	if d.Source == "" {
		return nil, fieldErrors{"source": "Name the source recorded on what is imported."}, nil
	}
	var filter *store.FeedFilter
	if d.Feed != "" {
		f, err := c.st.GetFeed(r.Context(), d.Feed)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fieldErrors{"feed": "There is no such feed."}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		filter = &f.Filter
	}
	v, err := c.o.Validator()
	if err != nil {
		return nil, nil, err
	}
	in, err := ingest.New(c.st, v, ingest.Options{Source: d.Source, Filter: filter})
	if err != nil {
		return nil, fieldErrors{"source": err.Error()}, nil
	}
	res := &importResult{}
	if p, ok := file.(*multipart.Part); ok {
		res.File = p.FileName()
	}
	dec := stix.NewDecoder(file, c.o.ObjectLimits)
	var items []ingest.Item
	var index []int
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		outs, err := in.Ingest(r.Context(), items)
		if err != nil {
			return err
		}
		for i, o := range outs {
			switch o.Result {
			case ingest.Added:
				res.Imported++
			case ingest.Unchanged:
				res.Unchanged++
			default:
				res.Rejected++
				if len(res.Rejections) < maxShownRejections {
					id := o.ID
					if id == "" {
						id = "-"
					}
					res.Rejections = append(res.Rejections, fmt.Sprintf("object %d %s: %s", index[i]+1, id, o.Reason))
				}
			}
		}
		items, index = items[:0], index[:0]
		return nil
	}
	for {
		raw, idx, err := dec.Next()
		var elemErr *stix.ElementError
		switch {
		case errors.Is(err, io.EOF):
			if err := flush(); err != nil {
				return nil, nil, err
			}
			res.Summary = summary(res)
			return res, nil, nil
		case errors.As(err, &elemErr):
			items, index = append(items, ingest.Item{Err: elemErr}), append(index, idx)
		case err != nil:
			if err := flush(); err != nil {
				return nil, nil, err
			}
			// The rest of an unreadable file is lost: one rejection, as the CLI counts it.
			res.Rejected++
			res.Error = err.Error()
			res.Summary = summary(res)
			return res, nil, nil
		default:
			items, index = append(items, ingest.Item{Raw: raw}), append(index, idx)
		}
		if len(items) >= importBatch {
			if err := flush(); err != nil {
				return nil, nil, err
			}
		}
	}
}

// summary reads like the CLI's last line.
func summary(r *importResult) string {
	return fmt.Sprintf("imported %d, unchanged %d, rejected %d", r.Imported, r.Unchanged, r.Rejected)
}
