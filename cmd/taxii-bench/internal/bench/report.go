package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one benchmark run: the machine, then one table of figures.
type Report struct {
	Machine Machine `json:"machine"`
	// Figures are in the order of the issue: import, pulls, deep page, pollers, memory, baseline.
	Figures []Figure `json:"figures"`
	// Pulls prove the full-feed pulls were complete: every object once.
	Pulls []PullCheck `json:"pulls"`
}

// Machine says where the figures come from.
type Machine struct {
	Cores     int    `json:"cores"`
	CPU       string `json:"cpu,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Store     string `json:"store"`
	Postgres  string `json:"postgres,omitempty"`
	Objects   int    `json:"objects"`
	DataBytes int64  `json:"data_bytes"`
	Runs      int    `json:"runs"`
	Quick     bool   `json:"quick,omitempty"`
	Decoder   string `json:"client_decoder"`
	FeedTypes string `json:"feed_types"`
	// Maintenance is what the benchmark did to the database besides the server's work.
	Maintenance string    `json:"maintenance,omitempty"`
	Started     time.Time `json:"started"`
	Seconds     float64   `json:"seconds"`
}

// Figure is one row of the table. Key is stable across versions, for comparisons.
type Figure struct {
	Key   string  `json:"key"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Missing, when set, says why there is no value (Value is then 0).
	Missing string `json:"missing,omitempty"`
}

// PullCheck is what one full-feed pull returned.
type PullCheck struct {
	Name       string `json:"name"`
	Objects    int    `json:"objects"`
	Duplicates int    `json:"duplicates"`
}

// Figure returns the figure with this key.
func (r *Report) Figure(key string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Key == key {
			return f, true
		}
	}
	return Figure{}, false
}

// WriteTable prints the machine and the figures as a table.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d cores", m.Cores)
	if m.CPU != "" {
		fmt.Fprintf(w, " (%s)", m.CPU)
	}
	fmt.Fprintf(w, ", %s, %s\n", m.GoVersion, m.OS)
	fmt.Fprintf(w, "store:   %s", m.Store)
	if m.Postgres != "" {
		fmt.Fprintf(w, " (PostgreSQL %s)", m.Postgres)
	}
	quick := ""
	if m.Quick {
		quick = ", quick"
	}
	types := m.FeedTypes
	if types == "" {
		types = "all types"
	}
	fmt.Fprintf(w, "; %d indicators, %.1f MB of JSON; feed of %s; median of %d runs%s; client decoder %s; took %.0f s\n",
		m.Objects, float64(m.DataBytes)/1e6, types, m.Runs, quick, m.Decoder, m.Seconds)
	if m.Maintenance != "" {
		fmt.Fprintf(w, "database: %s\n", m.Maintenance)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\t%12s\tunit\n", "value")
	for _, f := range r.Figures {
		v := formatValue(f.Value)
		if f.Missing != "" {
			v = "n/a (" + f.Missing + ")"
		}
		fmt.Fprintf(tw, "%s\t%12s\t%s\n", f.Name, v, f.Unit)
	}
	return tw.Flush()
}

func formatValue(v float64) string {
	switch {
	case v >= 1000 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// WriteJSON writes the report to the file path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
