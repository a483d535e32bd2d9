package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/stix"
)

// validateBatch objects are validated together on all cores.
const validateBatch = 2000

// runValidate checks STIX 2.1 content without storing it: one line per
// invalid object (FILE:INDEX: ID: PATH: REASON), then "valid N, invalid M".
func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return validateFiles(ctx, args, os.Stdin, stdout, stderr)
}

func validateFiles(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	strict := fs.Bool("strict", false, "refuse custom properties without the x_ prefix and undeclared custom object types")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: taxii-server validate [--strict] FILE...   (- reads standard input)")
			fmt.Fprintln(stdout, "\nReads bundles, TAXII envelopes, JSON arrays, single objects or JSON lines.\n\nFlags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return usageError{"validate: " + err.Error() + " (see taxii-server validate --help)"}
	}
	if fs.NArg() == 0 {
		return usageError{"validate: name at least one FILE (- for standard input)"}
	}
	// The configuration's default object limits, as the server applies them unless configured otherwise.
	limits := config.Default().ObjectLimits()
	v, err := stix.NewValidator(stix.Options{Strict: *strict, Limits: limits})
	if err != nil {
		return err
	}
	var total validateCounts
	for _, name := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := validateFile(ctx, v, limits, name, stdin, stdout)
		total.valid += c.valid
		total.invalid += c.invalid
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The file cannot be read (further): one finding for the file.
			fmt.Fprintf(stdout, "%s: %v\n", displayName(name), err)
			total.invalid++
		}
	}
	fmt.Fprintf(stdout, "valid %d, invalid %d\n", total.valid, total.invalid)
	if total.invalid > 0 {
		return fmt.Errorf("%w: %d invalid", errReported, total.invalid)
	}
	return nil
}

type validateCounts struct{ valid, invalid int }

func displayName(name string) string {
	if name == "-" {
		return "<stdin>"
	}
	return name
}

// validateFile streams one file through the decoder and validates it in
// batches; a returned error means the rest of the file could not be read.
func validateFile(ctx context.Context, v *stix.Validator, limits stix.Limits, name string, stdin io.Reader, out io.Writer) (validateCounts, error) {
	var counts validateCounts
	r, closeInput, err := openInput(name, stdin)
	if err != nil {
		return counts, err
	}
	defer closeInput()
	file := displayName(name)
	err = decodeBatches(stix.NewDecoder(r, limits), validateBatch, func(items []decoded) error {
		var raws [][]byte
		for _, it := range items {
			if it.err == nil {
				raws = append(raws, it.raw)
			}
		}
		res := v.ValidateAll(raws)
		k := 0
		for _, it := range items {
			if it.err != nil {
				counts.invalid++
				fmt.Fprintf(out, "%s: object %d: %s: -: %v\n", file, it.index+1, elementID(it.err), reason(it.err))
				continue
			}
			r := res[k]
			k++
			if r.Err == nil {
				counts.valid++
				continue
			}
			counts.invalid++
			id, path, why := "-", "-", r.Err.Error()
			var ve *stix.Error
			if errors.As(r.Err, &ve) {
				why = ve.Reason
				if ve.ID != "" {
					id = ve.ID
				}
				if ve.Path != "" {
					path = ve.Path
				}
			}
			fmt.Fprintf(out, "%s: object %d: %s: %s: %s\n", file, it.index+1, id, path, why)
		}
		return ctx.Err()
	})
	return counts, err
}

// elementID is the id of the object an element error could name, else "-".
func elementID(err error) string {
	var ee *stix.ElementError
	if errors.As(err, &ee) && ee.ID != "" {
		return ee.ID
	}
	return "-"
}

// reason is an element error without the element's name, which the line
// already shows.
func reason(err error) string {
	var ee *stix.ElementError
	if errors.As(err, &ee) {
		return fmt.Sprintf("%s (line %d)", ee.Reason, ee.Line)
	}
	return err.Error()
}
