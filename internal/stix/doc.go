// Package stix parses and validates STIX 2.1 content: single objects against the
// official OASIS JSON schemas plus the rules schemas cannot express, STIX
// patterns, and the containers objects arrive in (bundles, TAXII envelopes,
// arrays, NDJSON).
//
// Validation never touches the network or the file system: the schemas are
// embedded (scripts/schemas.sh fills the schemas folder before a build) and
// compiled once by NewValidator. Each object is checked against the schema of
// its own type, never through bundle.json.
//
// # Custom content
//
// By default (Options.Strict false) custom content is accepted as the STIX
// specification allows it: custom properties with or without the x_ prefix,
// custom object types (validated against the common SDO core schema when they
// carry created or modified, otherwise against the cyber-observable core).
// Strict mode refuses top-level properties that the object's schema does not
// define unless they start with x_ or the object declares a
// toplevel-property-extension, and refuses object types that are neither
// defined by the specification, nor x- prefixed, nor declared by an
// extension-definition of type new-sdo, new-sco or new-sro. Property names the
// schemas forbid (upper case, fewer than 3 characters, the reserved severity,
// action, username and phone_numbers) are refused in both modes.
//
// # What the schemas miss
//
// Checked in code: real calendar dates in every schema timestamp (leap
// seconds only where they happened, at most 9 fractional digits: the stores
// order versions to the nanosecond, and ParseTimestamp is the one parser
// both use), modified not before created,
// spec_version exactly "2.1" (STIX 2.0 content, with spec_version "2.0" or
// without spec_version on an SDO or SRO, is refused as such), identifiers of
// the form type--UUID whose type matches the object's type, time ranges in
// order (valid_until after valid_from, last_seen not before first_seen,
// stop_time after start_time, ...), IPv6 addresses (the upstream regex is
// broken for IPv4-mapped addresses), idn-hostname, duplicate JSON keys,
// invalid UTF-8, numbers common clients cannot read (not a finite double,
// or more than 100 digits), granular markings with exactly one of lang and
// marking_ref (the schema requires marking_ref), and the syntax and
// semantics of STIX patterns. Patterns of
// other types (sigma, yara, snort, ...) are accepted as text.
//
// # Bounded work
//
// Objects come from untrusted clients, so every cost is bounded: Limits caps
// size, nesting and properties; schema patterns other than the base64 and hex
// ones are not run on values over 64 KiB (no real identifier, version or CPE
// is that long, and some patterns cost seconds on megabytes); patterns nest at
// most 100 levels.
//
// # Speed
//
// Valid objects are the common case: an allocation-free evaluator walks the
// compiled schemas first, and the schema library only runs (and writes the
// error) when that evaluator does not answer a certain yes.
//
// Three layers are hand-written where a library would do; each is here for
// a measured reason. BenchmarkValidateLayers measures them (indicators
// validated per CPU-second, a realistic feed indicator, 2-core machine under
// load, December 2026; a review earlier found 49k, 8.5k, 15k, 23k and 30k):
//
//	variant                                          indicators/CPU-s
//	as shipped                                       45k
//	library only (encoding/json, regexp, library)    5.9k
//	without fastschema.go (library validates all)    15k
//	with Go's regexp for the schema patterns         17k
//	with encoding/json in place of jsonvalue.go      20k
//
// So the shipped path is about 7x the library-only one. jsonvalue.go also
// refuses duplicate keys and invalid UTF-8, which encoding/json lets through
// (two readers could then see different objects). The streaming Decoder is
// the one reader of containers (bundles, envelopes, NDJSON) for import, Add
// Objects and the load benchmark's client.
package stix
