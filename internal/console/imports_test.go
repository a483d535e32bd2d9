package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// jobRow is the row of job id in the import page's job list.
func jobRow(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `data-job="`+id+`"`)
	if i < 0 {
		t.Fatalf("no row of job %s:\n%s", id, body)
	}
	row := body[i:]
	return row[:strings.Index(row, "</tr>")]
}

func TestImportPageListsJobsAndAJobShowsItsLines(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	token := c.login(e.admin)

	// Two jobs of other replicas, stored as they store them: one still
	// updating, one whose replica stopped updating it a minute ago.
	now := time.Now().UTC().Truncate(time.Microsecond)
	live := store.ImportJob{ID: "0e0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01", Source: "isac", KeyName: "api-admin", State: store.ImportRunning,
		Bytes: 5 << 20, Imported: 1200, CreatedAt: now.Add(-2 * time.Minute), UpdatedAt: now}
	gone := store.ImportJob{ID: "0f0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01", Source: "nightly", KeyName: "cli", State: store.ImportRunning,
		Imported: 3, Rejected: 7, Lines: []string{"rejected upload: object 4 indicator--x: no pattern"}, Unlisted: 6,
		CreatedAt: now.Add(-10 * time.Minute), UpdatedAt: now.Add(-time.Minute)}
	for _, j := range []store.ImportJob{live, gone} {
		if err := e.st.CreateImportJob(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}

	// One import through the console's form: a stored object and a rejected one.
	bundle := `{"type":"bundle","id":"bundle--6a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01","objects":[` +
		`{"type":"malware","spec_version":"2.1","id":"malware--1a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01","created":"2026-02-01T00:00:00.000Z","modified":"2026-02-01T00:00:00.000Z","name":"x","is_family":false},` +
		`{"type":"indicator","spec_version":"2.1","id":"indicator--2a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"}]}`
	body, ct := multipartBody(t, [][2]string{{"csrf", token}, {"source", "upload"}}, bundle)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/import", body)
	req.Header.Set("Content-Type", ct)
	resp, page := c.do(req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("import: %s\n%s", resp.Status, page)
	}
	jobs, err := e.st.ListImportJobs(t.Context(), 10)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("%d jobs, %v", len(jobs), err)
	}
	mine := jobs[0]
	if mine.Source != "upload" {
		t.Fatalf("newest job %+v, want the console's", mine)
	}
	if !strings.Contains(page, `href="/console/import/`+mine.ID+`"`) {
		t.Fatal("the import's result does not link to its job")
	}

	// The list: newest first, each as the service reports it.
	resp, page = c.get("/console/import")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("import page: %s", resp.Status)
	}
	a, b, z := strings.Index(page, `data-job="`+mine.ID+`"`), strings.Index(page, `data-job="`+live.ID+`"`), strings.Index(page, `data-job="`+gone.ID+`"`)
	if a < 0 || !(a < b && b < z) {
		t.Fatalf("jobs not listed newest first (%d, %d, %d):\n%s", a, b, z, page)
	}
	for _, tc := range []struct {
		id   string
		want []string
	}{
		{mine.ID, []string{">done<", ">upload<", "imported 1, unchanged 0, conflicting 0, rejected 1", " B<", ">console-admin<"}},
		{live.ID, []string{">running<", ">isac<", "imported 1200, unchanged 0", "5.0 MiB", ">api-admin<", "<td>—</td>"}},
		{gone.ID, []string{">failed<", ">nightly<", "rejected 7", ">cli<", "the server running it stopped before it ended"}},
	} {
		row := jobRow(t, page, tc.id)
		for _, w := range tc.want {
			if !strings.Contains(row, w) {
				t.Errorf("job %s: no %q in its row:\n%s", tc.id, w, row)
			}
		}
	}

	// A job's page lists its lines as the admin API does: the rejected objects, then the count of those not listed.
	resp, page = c.get("/console/import/" + mine.ID)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "rejected bundle.json: object 2 indicator--2a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01") {
		t.Fatalf("job page: %s\n%s", resp.Status, page)
	}
	_, page = c.get("/console/import/" + gone.ID)
	for _, w := range []string{">failed<", "the server running it stopped", "rejected upload: object 4 indicator--x: no pattern", "upload: 6 more rejected or conflicting objects not listed"} {
		if !strings.Contains(page, w) {
			t.Errorf("the stale job's page has no %q:\n%s", w, page)
		}
	}
	_, page = c.get("/console/import/" + live.ID)
	if !strings.Contains(page, ">running<") || !strings.Contains(page, `data-reload=`) {
		t.Errorf("the running job's page does not show it running, reloading:\n%s", page)
	}
	if resp, _ := c.get("/console/import/1a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f99"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown job: %s", resp.Status)
	}
}
