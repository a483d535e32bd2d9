// Package store is the contract between the TAXII API and the intelligence store.
// It holds the domain types, the query shapes that mirror TAXII filters and the
// sentinel errors; postgres and sqlite implement it, storetest proves them.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/inthreat/taxii-server/internal/stix"
)

// Sentinel errors. Implementations translate every driver error into one of
// these or into a DatabaseError; callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrBusy means the database did not answer within the statement timeout, or
	// a writer waited longer than the lock timeout: the request may be retried.
	ErrBusy = errors.New("database busy")
	// ErrSchemaMismatch means the database schema is newer or older than this binary knows.
	ErrSchemaMismatch = errors.New("database schema version mismatch")
	// ErrOtherSource means a confined writer touched an object of which a stored
	// version came from another source.
	ErrOtherSource = errors.New("object belongs to another source")
)

// Store is everything the server needs from persistence.
type Store interface {
	Objects
	ObservableIndex
	Feeds
	Keys
	Statuses
	Settings
	Maintenance
	Sources
	Audit
	Usage
	ImportJobs
	// Migrate applies pending migrations; safe to run twice and from several processes.
	Migrate(ctx context.Context) error
	// CheckSchema returns ErrSchemaMismatch unless the schema is exactly the one this binary knows.
	CheckSchema(ctx context.Context) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close()
}

// Limits bound how long the database may work for one request; zero: no bound.
type Limits struct {
	// StatementTimeout ends any statement that runs longer (ErrBusy). Migrations are exempt.
	StatementTimeout time.Duration
	// LockTimeout ends a writer's wait for a lock another transaction holds (ErrBusy).
	LockTimeout time.Duration
	// FeedBuildStep is how many stored versions one step of building a feed's
	// entries examines, in one transaction under the writers' lock; zero:
	// DefaultFeedBuildStep.
	FeedBuildStep int
	// FeedBuildAtOnce is how long the transaction that creates a feed or
	// changes its filter goes on taking steps, so that readers see the change
	// whole, before the rest is built step by step (the feed then Building);
	// zero: DefaultFeedBuildAtOnce. Tests set it to a nanosecond.
	FeedBuildAtOnce time.Duration
}

// DefaultFeedBuildAtOnce makes the change of a feed over a store of up to a few
// hundred thousand versions atomic, as readers saw it before builds had steps,
// while writers wait no longer than this and a step.
const DefaultFeedBuildAtOnce = 5 * time.Second

// BuildAtOnce is l.FeedBuildAtOnce, or its default, and at most half the lock
// timeout (writers waiting for the change must not time out) and half the
// statement timeout (SQLite's change is under one).
func (l Limits) BuildAtOnce() time.Duration {
	d := DefaultFeedBuildAtOnce
	if l.FeedBuildAtOnce > 0 {
		d = l.FeedBuildAtOnce
	}
	for _, t := range []time.Duration{l.LockTimeout, l.StatementTimeout} {
		if t > 0 {
			d = min(d, t/2)
		}
	}
	return d
}

// DefaultFeedBuildStep keeps a step of a feed build to about a second with the
// writers waiting (a 10% feed over 1M versions entered 100,000 in 3.5 s on Postgres,
// a version matching or not being examined in ~1-35 µs).
const DefaultFeedBuildStep = 50_000

// BuildStep is l.FeedBuildStep, or its default.
func (l Limits) BuildStep() int {
	if l.FeedBuildStep > 0 {
		return l.FeedBuildStep
	}
	return DefaultFeedBuildStep
}

// ErrBuilding is what readers of a feed whose entries are still being built
// are told (a 503 with Retry-After, as any ErrBusy).
var ErrBuilding = fmt.Errorf("%w: the feed's entries are being built after a change of its filter", ErrBusy)

// LookupConns is the number of database connections every store keeps for key,
// feed and settings lookups and readiness checks, apart from the pool that
// pages and writes use: authentication never queues behind page reads.
const LookupConns = 2

// Object is one version of a STIX object as it comes in.
type Object struct {
	ID          string // "type--uuid"
	Type        string
	SpecVersion string
	Created     string // exact string as received, "" when absent
	Modified    string // exact string as received, "" when absent
	Raw         []byte // the object's JSON exactly as received
	Source      string // who stored it: a key's source, or the import's
	// Confined refuses the object (ErrOtherSource) when a stored version of ID
	// has another Source: what a writer that is not an admin may do.
	Confined bool
	// Observables are the values the object's pattern names (observables.Of), stored
	// with the version and indexed for lookups and blocklists; nil for most objects.
	Observables []Observable
	// Digest is the content digest of Raw (stix.Digest; ingest has it from
	// validation). nil: the store computes it.
	Digest []byte
}

// Observable is one value an indicator's pattern names, in canonical form.
type Observable struct {
	Type  string // ipv4-addr, ipv6-addr, domain-name, url, email-addr, file:sha256, x509-certificate:sha1, ...
	Value string // canonical: lower-case domain, e-mail and hash; canonical IP or masked CIDR
	List  string // blocklist kind (ipv4, ipv6, cidr, domain, url, sha256, sha1, md5); "" for none
	Entry string // the value as that blocklist shows it (a URL without its scheme)
	// Of the indicator version, repeated here so that blocklists need not read objects.
	Revoked    bool
	ValidUntil int64 // µs since the epoch; 0: no valid_until
}

// AddOutcome says what AddObjects did with one input object.
type AddOutcome struct {
	Added bool // false: stored before, or refused
	// Conflict: this version (id, version) was stored before with other content
	// (another digest); the stored one is kept, unchanged.
	Conflict  bool
	DateAdded int64 // microseconds since the Unix epoch; of the stored version
	// Refused is why the store did not take this object (the others of the call
	// are still stored): ErrOtherSource, or a version timestamp it cannot order.
	Refused error
}

// Row is one stored version as a query returns it. Raw is only valid during the callback.
type Row struct {
	DateAdded   int64 // microseconds since the Unix epoch, unique in the store
	ID          string
	Type        string
	SpecVersion string
	Version     string // modified, else created, else "" (callers then show date_added)
	Raw         []byte
}

// VersionMatch mirrors match[version]. The zero value means "last".
type VersionMatch struct {
	All   bool
	First bool
	Last  bool
	// Times are version timestamps (modified, or created when there is none),
	// already normalised with VersionKey.
	Times []string
	// DateAdded selects, among objects that have neither modified nor created,
	// the version whose date_added (µs) is listed: TAXII shows that as their version.
	DateAdded []int64
}

// FeedFilter is the saved filter that makes a feed out of the store. Its
// conditions are ANDed; the values inside one condition are ORed; an empty
// condition allows everything. Package feed parses, validates and describes it.
type FeedFilter struct {
	Types        []string // empty: every type
	ExcludeTypes []string
	TLP          []TLP    // the object's highest TLP level is one of these (TLPNone: no TLP marking)
	Sources      []string // provenance source of the version
	CreatedBy    []string // created_by_ref or any of x_inthreat_sources_refs
	// MinConfidence > 0 keeps objects whose confidence is at least this; objects
	// without confidence are left out (unknown is not "at least N"). 0: no condition.
	MinConfidence  int
	Labels         []string // any of them
	ExcludeRevoked bool
	ExcludeExpired bool // valid_until before the time of the read
	// WithContext also shows every identity and marking-definition, whatever the other conditions.
	WithContext bool

	// Index is the id of the stored feed whose membership index serves this
	// filter. The stores set it on the feeds they return; a filter that needs
	// the index (Indexed) and has none is refused by ScanObjects and DeleteObject.
	Index string
}

// ContextTypes are the types WithContext adds to a feed.
var ContextTypes = []string{"identity", "marking-definition"}

// Indexed reports whether the filter has conditions that the stores serve from
// a per-feed membership index maintained at ingest and on feed update, rather
// than from the object columns at read time (types, expiry).
func (f FeedFilter) Indexed() bool {
	return len(f.ExcludeTypes) > 0 || len(f.TLP) > 0 || len(f.Sources) > 0 || len(f.CreatedBy) > 0 ||
		f.MinConfidence > 0 || len(f.Labels) > 0 || f.ExcludeRevoked
}

// ReadTypes is the type condition a feed that is not Indexed applies at read
// time: its types, plus the context types; nil means every type.
func (f FeedFilter) ReadTypes() []string {
	if len(f.Types) == 0 {
		return nil
	}
	if !f.WithContext {
		return f.Types
	}
	out := slices.Clone(f.Types)
	for _, t := range ContextTypes {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// ErrNeedsIndex is returned for a query whose feed filter needs a membership
// index (FeedFilter.Indexed) but does not come from a stored feed.
var ErrNeedsIndex = errors.New("store: this feed filter needs a stored feed (FeedFilter.Index)")

// Query selects versions for the objects, manifest and versions endpoints.
// All conditions are ANDed; lists within one condition are ORed.
type Query struct {
	Feed         FeedFilter
	IDs          []string // match[id]
	Types        []string // match[type]
	Versions     VersionMatch
	SpecVersions []string // match[spec_version]; empty: every stored version (only 2.1 is ever stored, so that is the latest)
	AddedAfter   int64    // exclusive lower bound on date_added in µs; 0: none
	// ModifiedAfter is an exclusive lower bound on the version (modified, else created),
	// normalised with VersionKey; "": none. Versions without either never match it.
	ModifiedAfter string
	After         int64 // exclusive cursor position (a date_added); 0: from the start
	Limit         int   // >= 1
	NoRaw         bool  // Row.Raw is not needed (manifest, versions)
}

// Page summarises one page before its rows are streamed.
type Page struct {
	Count int
	First int64 // date_added of the first row; 0 when Count == 0
	Last  int64 // date_added of the last row
	More  bool  // rows after Last match the query
}

// Objects is the intelligence store.
type Objects interface {
	// AddObjects stores each version unless the same (id, version) is already stored,
	// where version is modified, else created, compared as instants; the first
	// content stored for a version stays, and a later one with another digest is
	// a Conflict (within one call too). It assigns each
	// new version a date_added greater than any committed before it (strictly
	// increasing in commit order), all in one transaction. An object the store
	// refuses (AddOutcome.Refused) does not stop the others; an error means
	// nothing was stored. Outcomes are in input order.
	AddObjects(ctx context.Context, objs []Object) ([]AddOutcome, error)
	// AddObjectBatches is AddObjects over the batches next returns, until an
	// empty one, in one transaction: all batches are stored or none (an error
	// from next, returned as is, rolls back the batches before it too). A
	// version stored by an earlier batch counts as stored before. Outcomes are
	// in input order across batches. The store keeps nothing of a batch once it
	// calls next again, so a writer can store a request larger than its memory
	// without giving up all-or-nothing.
	AddObjectBatches(ctx context.Context, next func() ([]Object, error)) ([]AddOutcome, error)

	// ScanObjects runs q in one consistent snapshot, in date_added order. It calls
	// begin once with the page summary before any row, then each for every row of
	// the page (at most q.Limit). An error from begin or each stops the scan and
	// is returned as is.
	ScanObjects(ctx context.Context, q Query, begin func(Page) error, each func(Row) error) error

	// DeleteObject removes the versions of id selected by versions and specVersions,
	// among those the feed filter shows. It returns how many were removed;
	// ErrNotFound when none matched. With a source (a confined writer), it removes
	// nothing and returns ErrOtherSource when any stored version of id, selected
	// or not, came from another source.
	DeleteObject(ctx context.Context, feed FeedFilter, id string, versions VersionMatch, specVersions []string, source string) (int, error)
}

// SourceCount is a source with how many objects (ids) have a version from it.
type SourceCount struct {
	Source  string
	Objects int
}

// Sources reports where stored content came from.
type Sources interface {
	// ListSources returns every source of a stored version or of a key, ordered
	// by name; a key's source with nothing stored yet counts 0 objects.
	ListSources(ctx context.Context) ([]SourceCount, error)
	// Upstreams are the upstream TAXII collections pulled into the store.
	Upstreams
}

// ObservableIndex answers IOC lookups and firewall blocklists from the observables
// stored with each version, without reading the objects' JSON.
type ObservableIndex interface {
	// FindByObservable calls each, in date_added order, for at most limit latest
	// versions that the feed shows and whose pattern names value (of type typ; "": any type).
	// Rows are read in full before the first call, so each may be slow.
	FindByObservable(ctx context.Context, feed FeedFilter, typ, value string, limit int, each func(Row) error) error
	// ListEntries returns, in byte order and each once, up to limit entries of the
	// blocklist kind greater than after: those of the latest versions the feed shows
	// that are not revoked nor expired at now (µs). One short read; no connection is held after it.
	ListEntries(ctx context.Context, feed FeedFilter, kind, after string, now int64, limit int) ([]string, error)
	// ListState dates the set ListEntries reads: it changes whenever the list does. One short read.
	ListState(ctx context.Context, feed FeedFilter, kind string, now int64) (ListState, error)
}

// ListState dates the current entries of one blocklist, for its ETag and Last-Modified,
// without reading them: a list changes only when the store changes or an entry expires.
// The expiries are those of the kind in the whole store, a superset of any feed's.
type ListState struct {
	Changed    int64 // µs: the store's last change (a version added, a delete, a purge, a feed update)
	NextExpiry int64 // earliest valid_until after now among the kind's entries (µs); 0: none
	LastExpiry int64 // latest valid_until at or before now among them (µs); 0: none
}

// Feed is a saved filter over the store, published as one TAXII collection.
type Feed struct {
	ID          string // UUIDv4
	Title       string
	Description string
	Alias       string // optional, unique
	Filter      FeedFilter
	Writable    bool
	CreatedAt   time.Time
	// ExportFormat and ExportTemplate are what the feed export answers a request that
	// names no format: json (""), text, csv or custom with its template (package export checks them).
	ExportFormat   string
	ExportTemplate string
	// Building is true while the feed's entries are still being built (after
	// CreateFeed or a filter change was cut short): its pages are not served
	// until FinishFeedBuilds, or the next start, completes them. Read only.
	Building bool
}

// Feeds manages feeds.
type Feeds interface {
	// CreateFeed stores f (ID must be set; a zero CreatedAt means now) and builds its entries
	// as UpdateFeed does. ErrConflict when the id or alias exists.
	// Feed, key and status ids are UUIDs and match in either case. A lookup of
	// anything else finds nothing (ErrNotFound); creating with it is an error.
	CreateFeed(ctx context.Context, f Feed) error
	// GetFeed finds a feed by id or alias. ErrNotFound when none.
	GetFeed(ctx context.Context, idOrAlias string) (Feed, error)
	// ListFeeds returns all feeds ordered by creation time, then id.
	ListFeeds(ctx context.Context) ([]Feed, error)
	// UpdateFeed replaces the title, description, alias, filter, writable flag and export format
	// of the feed with f.ID, keeping its id and creation time. Pages served after
	// it returns use the new filter; the membership index is rebuilt in steps of
	// Limits.FeedBuildStep versions, each a transaction serialised with writers,
	// the first with the change (a feed of fewer versions is never seen half
	// built). ErrNotFound when none, ErrConflict when the alias is another feed's.
	UpdateFeed(ctx context.Context, f Feed) error
	// DeleteFeed removes a feed (not its objects). ErrNotFound when none.
	DeleteFeed(ctx context.Context, id string) error
	// FinishFeedBuilds completes the builds of the feeds' entries that were cut
	// short (Feed.Building), one step at a time; safe to run from several
	// processes at once.
	FinishFeedBuilds(ctx context.Context) error
	// FeedStats counts the versions the feed's filter shows (is_latest, as a
	// poller without match[version] sees them) and the newest date_added among
	// them (0 when none).
	FeedStats(ctx context.Context, filter FeedFilter) (count int64, newest int64, err error)
	// CountFilter counts, like FeedStats, the versions a filter shows that need
	// not be a stored feed's (its membership index is not used), stopping at
	// max: a result of max means "at least max".
	CountFilter(ctx context.Context, filter FeedFilter, max int64) (int64, error)
	// ObjectTypes lists the distinct types stored, sorted.
	ObjectTypes(ctx context.Context) ([]string, error)
}

// Role is what an API key may do.
type Role string

const (
	RoleReadOnly  Role = "read-only"
	RoleReadWrite Role = "read-write"
	RoleAdmin     Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleReadOnly || r == RoleReadWrite || r == RoleAdmin
}

// APIKey is a stored key. The secret itself is never stored, only its hash.
type APIKey struct {
	ID         string // UUID; the public part of the key, used for lookup
	Name       string
	Role       Role
	Feeds      []string // feed ids it may use; empty: all feeds
	Source     string   // recorded on what the key stores; "" at creation: the key's name
	Hash       []byte   // SHA-256 of the secret part
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
	RevokedAt  time.Time // zero when active
	// PrevHash is the hash of the secret a rotation replaced; it stays valid
	// until PrevValidUntil (the grace period). Nil when none.
	PrevHash       []byte
	PrevValidUntil time.Time
}

// KeySource is the source a key records on what it stores: its Source, or by
// default its name.
func KeySource(k APIKey) string {
	if k.Source != "" {
		return k.Source
	}
	return k.Name
}

// Keys manages API keys.
type Keys interface {
	// CreateKey stores k (ID and Hash set; a zero CreatedAt means now). ErrConflict when the id exists.
	CreateKey(ctx context.Context, k APIKey) error
	// CreateFirstKey stores k only when the store has no key at all, atomically
	// across processes. It reports whether k was stored.
	CreateFirstKey(ctx context.Context, k APIKey) (bool, error)
	// GetKey returns a key by id, revoked or not. ErrNotFound when none.
	GetKey(ctx context.Context, id string) (APIKey, error)
	// ListKeys returns every key, revoked ones included, by creation time, then id.
	ListKeys(ctx context.Context) ([]APIKey, error)
	// RevokeKey marks a key revoked. ErrNotFound when none or already revoked.
	RevokeKey(ctx context.Context, id string) error
	// TouchKey sets last_used_at to at; no error when the key is missing.
	TouchKey(ctx context.Context, id string, at time.Time) error
	// RotateKey gives an active key a new secret hash; the old hash stays valid
	// until prevValidUntil, replacing any earlier previous hash. ErrNotFound when
	// there is no such active key.
	RotateKey(ctx context.Context, id string, hash []byte, prevValidUntil time.Time) error
}

// AuditEntry is one management action. It never carries a secret.
type AuditEntry struct {
	ID         int64 // assigned by the store, increasing
	At         time.Time
	Actor      string // the key's name, or "cli"
	ActorKeyID string
	Address    string // the client address; "" for the CLI
	Action     string // feed.create, key.revoke...
	Target     string // the feed's or key's id
	Detail     string
}

// Audit is the log of management actions.
type Audit interface {
	// AddAudit appends e (ID is assigned; a zero At means now).
	AddAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns up to limit entries with an ID below before (0: from the
	// newest), newest first.
	ListAudit(ctx context.Context, before int64, limit int) ([]AuditEntry, error)
	// TrimAudit deletes the entries older than olderThan and those beyond the
	// keep newest, and returns how many it deleted.
	TrimAudit(ctx context.Context, olderThan time.Time, keep int) (int, error)
}

// Settings holds server-wide values shared by every replica.
type Settings interface {
	// CursorSecret returns the secret that signs paging cursors, creating a random
	// one on first use, the same for every process on this store.
	CursorSecret(ctx context.Context) ([]byte, error)
}

// StatusObject names one object of an add request in a status resource.
type StatusObject struct {
	ID      string
	Version string
	Message string // failures only
}

// StatusList names one of the three lists of a status.
type StatusList int

// The lists of a status, in the order of the resource.
const (
	StatusSuccesses StatusList = iota
	StatusFailures
	StatusPendings
)

// Status is a TAXII status resource: the outcome of one add-objects request.
type Status struct {
	ID               string // UUID
	FeedID           string
	KeyID            string // the key that made the request
	Status           string // "complete" or "pending"
	RequestTimestamp time.Time
	TotalCount       int
	SuccessCount     int
	FailureCount     int
	PendingCount     int
	Successes        []StatusObject
	Failures         []StatusObject
	Pendings         []StatusObject
	ExpiresAt        time.Time
}

// Statuses stores status resources.
type Statuses interface {
	// CreateStatus stores s. ErrConflict when the id exists.
	CreateStatus(ctx context.Context, s Status) error
	// UpdateStatus replaces a stored status. ErrNotFound when none.
	UpdateStatus(ctx context.Context, s Status) error
	// ScanStatus reads the status with this id that is live at now (now <
	// ExpiresAt) one entry at a time, from one snapshot, never holding its
	// entries decoded: begin gets the status with nil lists, then each gets
	// every entry of its lists in order (the successes, then the failures,
	// then the pendings, each in the order stored). An error of begin or each
	// ends the scan and is returned as is. ErrNotFound, before begin, when
	// there is no such status.
	ScanStatus(ctx context.Context, id string, now time.Time, begin func(Status) error, each func(StatusList, StatusObject) error) error
	// DeleteExpiredStatuses removes up to limit statuses with ExpiresAt <= now, the
	// longest expired first, and returns how many. The bound keeps each run short.
	DeleteExpiredStatuses(ctx context.Context, now time.Time, limit int) (int, error)
}

// ShowsAll reports whether the filter shows every object (a feed that filters nothing).
func (f FeedFilter) ShowsAll() bool { return len(f.Types) == 0 && !f.Indexed() && !f.ExcludeExpired }

// Purge selects whole objects (every version of an id) to remove for retention. An object
// is selected when no version of it was added at or after Before, its latest version is
// shown by Feed, and, when set, that latest version is revoked (Revoked) or has a
// valid_until before ExpiredBefore (an RFC 3339 UTC timestamp, compared as text).
type Purge struct {
	Feed          FeedFilter
	Before        int64 // µs since the epoch; required (> 0)
	Revoked       bool
	ExpiredBefore string
	DryRun        bool // count, remove nothing
}

// PurgeResult counts what a purge removed (or would remove).
type PurgeResult struct {
	Objects  int64
	Versions int64
}

// Maintenance is what operations commands and metrics need beyond the TAXII API.
type Maintenance interface {
	// PurgeObjects removes the objects p selects, all in one transaction, serialised
	// with writers: dates of the objects that remain never change, so pollers' watermarks
	// (added_after, next) stay valid and miss nothing still shown.
	PurgeObjects(ctx context.Context, p Purge) (PurgeResult, error)
	// Analyze refreshes the planner's statistics after a large load, so that
	// the first pages read from it get good plans before the database's own
	// maintenance runs (ingest.AfterImport decides when).
	Analyze(ctx context.Context) error
}

// Allows reports whether the feed filter shows objects of this type.
// Writable collections accept only what they would show.
func (f FeedFilter) Allows(objectType string) bool {
	if slices.Contains(f.ExcludeTypes, objectType) {
		return f.WithContext && slices.Contains(ContextTypes, objectType)
	}
	types := f.ReadTypes()
	return len(types) == 0 || slices.Contains(types, objectType)
}

// ObjectDigest is o's content digest: o.Digest, else computed from o.Raw.
func ObjectDigest(o Object) ([]byte, error) {
	if o.Digest != nil {
		return o.Digest, nil
	}
	return stix.Digest(o.Raw)
}
