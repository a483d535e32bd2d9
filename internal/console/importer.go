package console

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/store"
)

type importData struct {
	Feeds  []store.Feed
	Source string
	Feed   string
	Result *importResult
	Jobs   []jobView // the newest first
}

// jobView is an import job as the console shows it, read through admin.Service
// (a running job its replica stopped updating is failed there).
type jobView struct {
	ID, State, Source, StartedBy, Error string
	Feed                                string // title of the feed whose filter applied; "": none
	Summary                             string
	Bytes                               int64
	Started, Updated, Finished          time.Time
	Lines                               []string // listed objects and closing lines, as the admin API's
}

func newJobView(j store.ImportJob, titles map[string]string) jobView {
	v := jobView{ID: j.ID, State: j.State, Source: j.Source, StartedBy: j.KeyName, Error: j.Error,
		Summary: admin.ImportCounts(j).String(), Bytes: j.Bytes, Started: j.CreatedAt, Updated: j.UpdatedAt, Finished: j.FinishedAt}
	if j.Collection != "" {
		v.Feed = titles[strings.ToLower(j.Collection)]
		if v.Feed == "" {
			v.Feed = j.Collection + " (deleted)"
		}
	}
	return v
}

func feedTitles(feeds []store.Feed) map[string]string {
	titles := map[string]string{}
	for _, f := range feeds {
		titles[strings.ToLower(f.ID)] = f.Title
	}
	return titles
}

type importResult struct {
	File        string   `json:"file"`
	Imported    int      `json:"imported"`
	Unchanged   int      `json:"unchanged"`
	Conflicting int      `json:"conflicting"`
	Rejected    int      `json:"rejected"`
	Rejections  []string `json:"rejections,omitempty"` // the job's lines: rejected and conflicting objects
	Unlisted    int64    `json:"unlisted,omitempty"`   // past the lines' bound
	Error       string   `json:"error,omitempty"`      // why the job failed; what came before was imported
	Summary     string   `json:"summary"`
	Job         string   `json:"job"` // the job's id: its page is Path/import/{job}
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
	jobs, err := c.o.Admin.ImportJobs(r.Context(), c.o.Admin.Limit(0))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	titles := feedTitles(feeds)
	for _, j := range jobs {
		d.Jobs = append(d.Jobs, newJobView(j, titles))
	}
	c.render(w, r, status, "import", page{Title: "Import", Nav: "import", Data: d, Errors: errs})
}

// importJob shows one job with its listed lines, as GET /admin/api/v1/imports/{id} does.
func (c *console) importJob(w http.ResponseWriter, r *http.Request) {
	j, err := c.o.Admin.ImportJob(r.Context(), chi.URLParam(r, "job"))
	if errors.Is(err, store.ErrNotFound) {
		c.errorPage(w, r, http.StatusNotFound, "There is no such import job: jobs are deleted after TAXII_IMPORT_JOB_RETENTION.")
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	feeds, err := c.st.ListFeeds(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := newJobView(j, feedTitles(feeds))
	v.Lines = admin.ImportLines(j, "upload")
	c.render(w, r, http.StatusOK, "importjob", page{Title: "Import job", Nav: "import", Data: v})
}

func (c *console) importForm(w http.ResponseWriter, r *http.Request) {
	c.importPage(w, r, http.StatusOK, importData{}, nil)
}

// importUpload streams the uploaded file into the store as it arrives: the
// multipart body is read part by part (no temporary file) straight into an
// import job of admin.Service, which decodes and stores it in batches as the
// CLI's import does. The form's fields
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
			if d.Source == "" {
				c.importPage(w, r, http.StatusUnprocessableEntity, d, fieldErrors{"source": "Name the source recorded on what is imported."})
				return
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

// ingestFile imports one uploaded file as an import job of admin.Service, the
// admin API's path (ingest, job record, audit). Refusals of the form come back
// as field errors; a store failure as err.
func (c *console) ingestFile(r *http.Request, file *multipart.Part, d importData) (*importResult, fieldErrors, error) {
	job, err := c.o.Admin.Import(r.Context(), actor(r), file, admin.ImportRequest{Source: d.Source, Collection: d.Feed, Input: file.FileName()}, nil)
	if err != nil {
		if refused(err) {
			errs := fieldOf(err)
			if msg, ok := errs[""]; ok && d.Feed != "" {
				errs = fieldErrors{"feed": msg}
			}
			return nil, errs, nil
		}
		return nil, nil, err
	}
	t := admin.ImportCounts(job)
	res := &importResult{File: file.FileName(), Imported: t.Imported, Unchanged: t.Unchanged, Conflicting: t.Conflicting, Rejected: t.Rejected,
		Rejections: job.Lines, Unlisted: job.Unlisted, Error: job.Error, Summary: t.String(), Job: job.ID}
	return res, nil, nil
}
