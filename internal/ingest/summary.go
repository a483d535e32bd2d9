package ingest

import "fmt"

// Tally counts the outcomes of an import: the one summary every import path
// (the CLI, an admin import job, an upstream pull) reports.
type Tally struct {
	Imported    int `json:"imported"`
	Unchanged   int `json:"unchanged"`
	Conflicting int `json:"conflicting"`
	Rejected    int `json:"rejected"`
}

// Add counts one outcome.
func (t *Tally) Add(o Outcome) {
	switch o.Result {
	case Added:
		t.Imported++
	case Unchanged:
		t.Unchanged++
	case Conflicting:
		t.Conflicting++
	default:
		t.Rejected++
	}
}

// Plus is the sum of two tallies.
func (t Tally) Plus(u Tally) Tally {
	return Tally{t.Imported + u.Imported, t.Unchanged + u.Unchanged, t.Conflicting + u.Conflicting, t.Rejected + u.Rejected}
}

// Total is how many objects were read.
func (t Tally) Total() int { return t.Imported + t.Unchanged + t.Conflicting + t.Rejected }

// String is the summary line: "imported 3, unchanged 1, conflicting 0, rejected 2".
func (t Tally) String() string {
	return fmt.Sprintf("imported %d, unchanged %d, conflicting %d, rejected %d", t.Imported, t.Unchanged, t.Conflicting, t.Rejected)
}

// Line is how an import lists one object that was not stored (rejected or
// conflicting; "" for others): input names the file or upload, pos is the
// object's 0-based index in it, shown 1-based.
func Line(input string, pos int, o Outcome) string {
	verb := "rejected"
	switch o.Result {
	case Conflicting:
		verb = "conflicting"
	case Added, Unchanged:
		return ""
	}
	id := o.ID
	if id == "" {
		id = "-"
	}
	return fmt.Sprintf("%s %s: object %d %s: %s", verb, input, pos+1, id, o.Reason)
}

// OldSTIXLine is the one line for all the STIX 2.0 objects of an input: a 2.0
// file is refused whole, and 50,000 identical lines say less than one.
func OldSTIXLine(input string, n int) string {
	return fmt.Sprintf("rejected %s: %d objects are STIX 2.0 (spec_version missing or \"2.0\"), not 2.1: "+
		"not imported; convert them to STIX 2.1 first", input, n)
}

// UnlistedLine closes a list cut at its bound.
func UnlistedLine(input string, n int) string {
	return fmt.Sprintf("%s: %d more rejected or conflicting objects not listed", input, n)
}

// Report accumulates one import's outcomes as the CLI prints them and an admin
// import job stores them: the counts, the lines of objects not stored (at most
// Max, then a count), and the STIX 2.0 objects as one line.
type Report struct {
	Input string // the file or upload, as the lines name it
	Max   int    // most lines listed
	Tally
	OldSTIX  int
	Lines    []string
	Unlisted int
}

// Add counts one outcome at 0-based position pos and returns the line that
// lists it, "" when it is not listed (stored, STIX 2.0, or past Max).
func (r *Report) Add(pos int, o Outcome) string {
	r.Tally.Add(o)
	if o.Result == Rejected && o.OldSTIX {
		r.OldSTIX++
		return ""
	}
	line := Line(r.Input, pos, o)
	if line == "" {
		return ""
	}
	if len(r.Lines) >= r.Max {
		r.Unlisted++
		return ""
	}
	r.Lines = append(r.Lines, line)
	return line
}

// Closing is what follows the listed lines once the input is done: the STIX
// 2.0 line and the count of lines not listed, when there are.
func (r *Report) Closing() []string {
	var out []string
	if r.OldSTIX > 0 {
		out = append(out, OldSTIXLine(r.Input, r.OldSTIX))
	}
	if r.Unlisted > 0 {
		out = append(out, UnlistedLine(r.Input, r.Unlisted))
	}
	return out
}
