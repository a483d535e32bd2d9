package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// ImportOptions are the limits of imports through the Service (the admin API
// and the console). Defaults live in internal/config.
type ImportOptions struct {
	Limits    stix.Limits   // of one object
	Strict    bool          // refuse custom properties without the x_ prefix
	ListMax   int           // rejected or conflicting objects a job lists; the rest are counted
	MaxBytes  int64         // largest input
	Retention time.Duration // jobs not updated for this long are deleted when another starts
}

// ImportRequest says what an import writes.
type ImportRequest struct {
	// Source is recorded on every stored version; "": the actor's key's source
	// (its source, else its name), or "import" for the CLI.
	Source string
	// Collection is a feed id or alias: objects the feed would not show are
	// rejected, as the CLI's --collection does. "": every object is taken.
	Collection string
	// Input names the input in the job's lines, as a file name does in the CLI's; "": "upload".
	Input string
}

const (
	// importBatch objects go to the store in one transaction, as in the CLI.
	importBatch = 2000
	// importTick is how often a running job's counts are written to the store,
	// where every replica reads them.
	importTick = time.Second
	// importStale: a running job not updated for this long lost its replica
	// (it stopped or died) and is shown as failed.
	importStale = 30 * time.Second
)

// Import reads r to its end through ingest, the one write path, as the CLI's
// import does. The job is stored before the first object is read (started, when
// set, is then called with it) and its counts are written about every second,
// so any replica can show it while it runs. An input that cannot be read to its
// end, is larger than ImportOptions.MaxBytes or is interrupted ends the job
// failed with its reason (what was stored before stays stored), and is no
// error. An error means the import could not start or the store failed.
func (s *Service) Import(ctx context.Context, who Actor, r io.Reader, req ImportRequest, started func(store.ImportJob)) (store.ImportJob, error) {
	o := s.opts.Imports
	src, err := s.importSource(ctx, who, req.Source)
	if err != nil {
		return store.ImportJob{}, err
	}
	var filter *store.FeedFilter
	var collection string
	if req.Collection != "" {
		f, err := s.GetFeed(ctx, req.Collection)
		if err != nil {
			return store.ImportJob{}, err
		}
		filter, collection = &f.Filter, f.ID
	}
	// Compiled per job: a tenth of a second, against an import of thousands of objects.
	v, err := stix.NewValidator(stix.Options{Strict: o.Strict, Limits: o.Limits})
	if err != nil {
		return store.ImportJob{}, err
	}
	in, err := ingest.New(s.st, v, ingest.Options{Source: src, Filter: filter}) // admins are not confined
	if err != nil {
		return store.ImportJob{}, err
	}
	now := s.now().UTC()
	if o.Retention > 0 {
		if _, err := s.st.DeleteImportJobs(ctx, now.Add(-o.Retention)); err != nil {
			return store.ImportJob{}, err
		}
	}
	input := req.Input
	if input == "" {
		input = "upload"
	}
	job := store.ImportJob{ID: uuid.NewString(), Source: src, Collection: collection, KeyID: who.KeyID, KeyName: who.Name,
		State: store.ImportRunning, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateImportJob(ctx, job); err != nil {
		return store.ImportJob{}, err
	}
	s.audit(ctx, who, "import.start", job.ID, "source "+src)
	if started != nil {
		started(job)
	}

	rep := &ingest.Report{Input: input, Max: o.ListMax}
	if o.MaxBytes > 0 {
		r = io.LimitReader(r, o.MaxBytes+1)
	}
	body := ingest.NewCountingReader(r)
	var mu sync.Mutex // job, between Stream's batches and the ticker
	counts := func() {
		job.Imported, job.Unchanged, job.Conflicting, job.Rejected = int64(rep.Imported), int64(rep.Unchanged), int64(rep.Conflicting), int64(rep.Rejected)
		job.OldSTIX, job.Unlisted = int64(rep.OldSTIX), int64(rep.Unlisted)
		job.Lines = slices.Clone(rep.Lines)
	}
	fill := func() {
		job.Bytes = body.Count()
		job.UpdatedAt = s.now().UTC()
	}
	// The job is written every importTick whether or not a batch was stored
	// since: an upload that pauses still shows its last batch, and the write is
	// the job's heartbeat (a job not written for importStale is shown failed).
	var tickErr error
	ticks, stopTicks := time.NewTicker(importTick), make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		for {
			select {
			case <-stopTicks:
				return
			case <-ticks.C:
			}
			mu.Lock()
			fill()
			snapshot := job
			mu.Unlock()
			if err := s.st.UpdateImportJob(ctx, snapshot); err != nil {
				tickErr = err // read after Wait
				return
			}
		}
	})
	err = in.Stream(ctx, body, o.Limits, importBatch, rep, func() {
		mu.Lock()
		counts()
		mu.Unlock()
	})
	close(stopTicks)
	ticks.Stop()
	ticker.Wait()
	if err == nil {
		err = tickErr
	}
	counts()
	fill()
	job.State, job.FinishedAt = store.ImportDone, job.UpdatedAt
	var storeErr error
	var inputErr *ingest.InputError
	switch {
	case o.MaxBytes > 0 && job.Bytes > o.MaxBytes: // cut at the limit, wherever that fell
		job.State, job.Error = store.ImportFailed, fmt.Sprintf("the input is larger than %d bytes (TAXII_IMPORT_MAX_BYTES); what came before was imported", o.MaxBytes)
	case err == nil:
	case ctx.Err() != nil:
		job.State, job.Error = store.ImportFailed, "interrupted: the upload or the server stopped; what came before was imported"
	case errors.As(err, &inputErr):
		job.State, job.Error = store.ImportFailed, "the input could not be read to its end: "+inputErr.Err.Error()
	default:
		job.State, job.Error = store.ImportFailed, "the store failed"
		storeErr = err
	}
	if err := ingest.AfterImport(context.WithoutCancel(ctx), s.st, rep.Imported); err != nil {
		s.log.Warn("refreshing planner statistics after an import", zap.String("job", job.ID), zap.Error(err))
	}
	// The final record is written even when the request's context has ended.
	if err := s.st.UpdateImportJob(context.WithoutCancel(ctx), job); err != nil && storeErr == nil {
		storeErr = err
	}
	s.log.Info("import finished", zap.String("job", job.ID), zap.String("source", src), zap.String("state", job.State),
		zap.Int64("bytes", job.Bytes), zap.Stringer("counts", rep.Tally), zap.String("error", job.Error))
	return job, storeErr
}

// importSource is the source an import records: the request's, else the key's.
func (s *Service) importSource(ctx context.Context, who Actor, src string) (string, error) {
	if src != "" {
		return src, nil
	}
	if who.KeyID == "" {
		return "import", nil
	}
	k, err := s.st.GetKey(ctx, who.KeyID)
	if err != nil {
		return "", err
	}
	return store.KeySource(k), nil
}

// ImportJob returns a job by id. A running job its replica stopped updating is
// shown failed.
func (s *Service) ImportJob(ctx context.Context, id string) (store.ImportJob, error) {
	j, err := s.st.GetImportJob(ctx, id)
	if isNotFound(err) {
		return j, notFound("no import job %q", id)
	}
	return s.stale(j), err
}

// ImportJobs returns the newest jobs, at most limit.
func (s *Service) ImportJobs(ctx context.Context, limit int) ([]store.ImportJob, error) {
	jobs, err := s.st.ListImportJobs(ctx, limit)
	for i := range jobs {
		jobs[i] = s.stale(jobs[i])
	}
	return jobs, err
}

func (s *Service) stale(j store.ImportJob) store.ImportJob {
	if j.State == store.ImportRunning && s.now().Sub(j.UpdatedAt) > importStale {
		j.State = store.ImportFailed
		j.Error = "the server running it stopped before it ended; what came before was imported"
	}
	return j
}

// importJSON is a job as the API shows it. Summary and Lines read like the
// CLI's output (ingest.Report makes both).
type importJSON struct {
	ID         string       `json:"id"`
	State      string       `json:"state"`
	Source     string       `json:"source"`
	Collection string       `json:"collection,omitempty"`
	StartedBy  string       `json:"started_by"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	FinishedAt *time.Time   `json:"finished_at"`
	Bytes      int64        `json:"bytes"`
	Counts     ingest.Tally `json:"counts"`
	Summary    string       `json:"summary"`
	Lines      []string     `json:"lines"`
	Error      string       `json:"error,omitempty"`
	Href       string       `json:"href"`
}

// ImportCounts are a job's counts as ingest tallies them; String is its summary.
func ImportCounts(j store.ImportJob) ingest.Tally {
	return ingest.Tally{Imported: int(j.Imported), Unchanged: int(j.Unchanged), Conflicting: int(j.Conflicting), Rejected: int(j.Rejected)}
}

// ImportLines are a job's listed objects followed by the closing lines of the
// CLI's report (STIX 2.0 objects, objects past the list), as the API and the
// console show them; input names the input in the closing lines.
func ImportLines(j store.ImportJob, input string) []string {
	rep := ingest.Report{Input: input, OldSTIX: int(j.OldSTIX), Unlisted: int(j.Unlisted)}
	return append(append([]string{}, j.Lines...), rep.Closing()...)
}

func importOut(j store.ImportJob, input string) importJSON {
	t := ImportCounts(j)
	return importJSON{ID: j.ID, State: j.State, Source: j.Source, Collection: j.Collection, StartedBy: j.KeyName,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, FinishedAt: optTime(j.FinishedAt), Bytes: j.Bytes,
		Counts: t, Summary: t.String(), Lines: ImportLines(j, input), Error: j.Error, Href: Prefix + "/imports/" + j.ID}
}

// startImport streams the body through the Service's Import and answers 202
// with the job once the body is read and stored; meanwhile GET
// /imports/{id} (the id is in the list, GET /imports) shows its counts.
func (a *API) startImport(w http.ResponseWriter, r *http.Request) {
	max := a.svc.opts.Imports.MaxBytes
	if max > 0 && r.ContentLength > max {
		a.fail(w, r, &Error{Err: &http.MaxBytesError{Limit: max},
			Message: fmt.Sprintf("The body is larger than %d bytes, the most one import takes (TAXII_IMPORT_MAX_BYTES).", max)})
		return
	}
	// A large upload outlasts the server's read timeout, meant for ordinary requests.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	q := r.URL.Query()
	job, err := a.svc.Import(r.Context(), actor(r), r.Body, ImportRequest{Source: q.Get("source"), Collection: q.Get("collection")}, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/imports/"+job.ID)
	a.writeJSON(w, http.StatusAccepted, importOut(job, "upload"))
}

func (a *API) getImport(w http.ResponseWriter, r *http.Request) {
	job, err := a.svc.ImportJob(r.Context(), pathParam(r, "import"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, http.StatusOK, importOut(job, "upload"))
}

func (a *API) listImports(w http.ResponseWriter, r *http.Request) {
	limit := a.svc.opts.ListLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			a.fail(w, r, invalid("limit", "limit %q is not a positive number", v))
			return
		}
		limit = n
	}
	if max := a.svc.opts.MaxListLimit; max > 0 && limit > max {
		limit = max
	}
	if limit < 1 {
		limit = 100
	}
	jobs, err := a.svc.ImportJobs(r.Context(), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]importJSON, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, importOut(j, "upload"))
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"imports": out})
}
