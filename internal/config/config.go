// Package config is the server's configuration: one struct with defaults,
// read from environment variables and flags in cmd/, validated once, passed down as values.
package config

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// Config holds every setting. The `env` tag names its environment variable;
// `secret` marks values redacted by String.
type Config struct {
	DatabaseURL string `env:"TAXII_DATABASE_URL" secret:"url" help:"postgres://... for Postgres; sqlite://PATH or empty for the embedded store"`
	DataDir     string `env:"TAXII_DATA_DIR" help:"folder of the embedded store's database file"`
	AutoMigrate bool   `env:"TAXII_AUTO_MIGRATE" help:"apply migrations when serve starts"`

	Listen        string `env:"TAXII_LISTEN" help:"address the HTTP server listens on"`
	APIRootPath   string `env:"TAXII_API_ROOT_PATH" help:"path of the one API root"`
	PublicBaseURL string `env:"TAXII_PUBLIC_BASE_URL" help:"scheme://host[:port] used in absolute URLs of the discovery document; empty: from the request"`

	Title              string `env:"TAXII_TITLE" help:"title of the discovery document"`
	Description        string `env:"TAXII_DESCRIPTION" help:"description of the discovery document"`
	Contact            string `env:"TAXII_CONTACT" help:"contact of the discovery document"`
	APIRootTitle       string `env:"TAXII_API_ROOT_TITLE" help:"title of the API root"`
	APIRootDescription string `env:"TAXII_API_ROOT_DESCRIPTION" help:"description of the API root"`

	DefaultPageSize  int   `env:"TAXII_DEFAULT_PAGE_SIZE" help:"objects per page when the client gives no limit"`
	MaxPageSize      int   `env:"TAXII_MAX_PAGE_SIZE" help:"largest page; a larger limit is capped"`
	MaxContentLength int64 `env:"TAXII_MAX_CONTENT_LENGTH" help:"largest request body in bytes, advertised in the API root"`
	MaxObjectsPerAdd int   `env:"TAXII_MAX_OBJECTS_PER_REQUEST" help:"most objects in one add-objects request"`
	MaxObjectSize    int   `env:"TAXII_MAX_OBJECT_SIZE" help:"largest single object in bytes"`
	MaxJSONDepth     int   `env:"TAXII_MAX_JSON_DEPTH" help:"deepest nesting of arrays and objects inside one object"`
	MaxJSONProps     int   `env:"TAXII_MAX_JSON_PROPERTIES" help:"most members of any one JSON object inside an object"`

	StatusTTL        time.Duration `env:"TAXII_STATUS_TTL" help:"how long status resources stay readable"`
	StatusPurgeEvery time.Duration `env:"TAXII_STATUS_PURGE_INTERVAL" help:"how often serve deletes expired status resources"`
	StatusPurgeBatch int           `env:"TAXII_STATUS_PURGE_BATCH" help:"most expired status resources one purge run deletes"`

	MaxMatchIDs      int  `env:"TAXII_MAX_MATCH_IDS" help:"most values in one match[id] list; a longer list is refused (400)"`
	MaxMatchValues   int  `env:"TAXII_MAX_MATCH_VALUES" help:"most values in one match[type], match[version] or match[spec_version] list; a longer list is refused (400)"`
	StrictValidation bool `env:"TAXII_STRICT_VALIDATION" help:"refuse custom properties that do not start with x_"`

	ReadHeaderTimeout time.Duration `env:"TAXII_READ_HEADER_TIMEOUT" help:"time to read request headers"`
	ReadTimeout       time.Duration `env:"TAXII_READ_TIMEOUT" help:"time to read a whole request"`
	WriteTimeout      time.Duration `env:"TAXII_WRITE_TIMEOUT" help:"time to write a response (0: none; pages stream)"`
	IdleTimeout       time.Duration `env:"TAXII_IDLE_TIMEOUT" help:"keep-alive idle time"`
	ShutdownTimeout   time.Duration `env:"TAXII_SHUTDOWN_TIMEOUT" help:"time in-flight requests get on SIGTERM"`

	LogLevel  string `env:"TAXII_LOG_LEVEL" help:"debug, info, warn or error"`
	LogFormat string `env:"TAXII_LOG_FORMAT" help:"json or console"`

	TLSCert           string        `env:"TAXII_TLS_CERT" help:"PEM certificate chain file; with TAXII_TLS_KEY the server speaks HTTPS itself (TLS 1.2 minimum)"`
	TLSKey            string        `env:"TAXII_TLS_KEY" help:"PEM private key file of TAXII_TLS_CERT"`
	TLSReloadInterval time.Duration `env:"TAXII_TLS_RELOAD_INTERVAL" help:"how often the certificate files are checked for changes (0: only on SIGHUP)"`
	TrustedProxies    string        `env:"TAXII_TRUSTED_PROXIES" help:"comma-separated IPs or CIDRs of reverse proxies whose Forwarded/X-Forwarded-* headers are believed; empty: none"`

	AdminKeyFile string `env:"TAXII_ADMIN_KEY_FILE" help:"on a store without keys, write the first admin key to this new file (mode 0600) instead of standard output; empty: standard output"`

	MetricsListen string        `env:"TAXII_METRICS_LISTEN" help:"address of a separate listener serving /metrics, e.g. :9090 or 127.0.0.1:9090; empty: none"`
	MetricsOnMain bool          `env:"TAXII_METRICS_ON_MAIN" help:"also serve /metrics, unauthenticated, on the main listener"`
	FeedStatsTTL  time.Duration `env:"TAXII_FEED_STATS_TTL" help:"how long the per-feed object counts of /metrics and the admin API are cached (one query per feed per refresh)"`

	ExportDefaultLimit   int           `env:"TAXII_EXPORT_DEFAULT_LIMIT" help:"items per page of the feed REST API when the client gives no limit"`
	ExportMaxLimit       int           `env:"TAXII_EXPORT_MAX_LIMIT" help:"largest page of the feed REST API; a larger limit is capped"`
	ExportMaxScan        int           `env:"TAXII_EXPORT_MAX_SCAN" help:"most versions read to fill one feed REST page when include_revoked/skip_expired skip some"`
	ExportMaxTemplateLen int           `env:"TAXII_EXPORT_MAX_TEMPLATE_LENGTH" help:"longest format=custom template, in bytes"`
	ListBatch            int           `env:"TAXII_LIST_BATCH" help:"blocklist entries read from the database at a time while a list streams"`
	ListKeyInQuery       bool          `env:"TAXII_LIST_KEY_IN_QUERY" help:"blocklists also accept the API key as ?key= (it then appears in URLs: see README)"`
	DBStatementTimeout   time.Duration `env:"TAXII_DB_STATEMENT_TIMEOUT" help:"longest one database statement may run (migrations exempt); past it the request answers 503"`
	DBLockTimeout        time.Duration `env:"TAXII_DB_LOCK_TIMEOUT" help:"longest a writer waits for a database lock; past it the request answers 503"`
	FeedBuildStep        int           `env:"TAXII_FEED_BUILD_STEP" help:"stored versions examined per transaction while a feed's entries are built (feed create, filter change); writers wait for one step"`
	MaxConnections       int           `env:"TAXII_MAX_CONNECTIONS" help:"open client connections; requests on connections past it answer 503"`
	MaxRequestsPerKey    int           `env:"TAXII_MAX_REQUESTS_PER_KEY" help:"requests one API key may have in progress at once, per replica; past it 429"`
	PageBufferMemory     int64         `env:"TAXII_PAGE_BUFFER_MEMORY" help:"bytes of memory for pages being written to clients, server-wide; the rest goes to temporary files"`
	PageWriteTimeout     time.Duration `env:"TAXII_PAGE_WRITE_TIMEOUT" help:"longest a client may take to accept one 64 KiB part of a page before the response is cut"`
	MaxAddBytes          int64         `env:"TAXII_MAX_ADD_BYTES" help:"bytes of add-objects request bodies in progress, server-wide (a body without Content-Length counts as TAXII_MAX_CONTENT_LENGTH); past it 503"`
	AddSpoolMemory       int64         `env:"TAXII_ADD_SPOOL_MEMORY" help:"bytes of memory for the checked objects of add-objects requests waiting to be stored, server-wide; the rest goes to temporary files"`
	MaxStatusReads       int           `env:"TAXII_MAX_STATUS_READS" help:"status resources read from the database at once; further reads wait their turn"`
	StatusBufferMemory   int64         `env:"TAXII_STATUS_BUFFER_MEMORY" help:"bytes of memory for status resources being written to clients, server-wide; the rest goes to temporary files"`

	SourcePollInterval time.Duration `env:"TAXII_SOURCE_POLL_INTERVAL" help:"how often serve looks for upstream sources due to be pulled"`
	SourceLease        time.Duration `env:"TAXII_SOURCE_LEASE" help:"how long a replica holds an upstream source between commits; a replica that dies frees it after this"`
	SourceHTTPTimeout  time.Duration `env:"TAXII_SOURCE_HTTP_TIMEOUT" help:"longest one request to an upstream TAXII server may take, body included"`

	UsageFlushInterval  time.Duration `env:"TAXII_USAGE_FLUSH_INTERVAL" help:"how often the per-key usage counted in memory is added to the database"`
	UsageRetention      time.Duration `env:"TAXII_USAGE_RETENTION" help:"how long hourly usage figures are kept"`
	UsageMaxEntries     int           `env:"TAXII_USAGE_MAX_ENTRIES" help:"most (key, feed, hour) usage counters held in memory between flushes; past it usage is counted without its key"`
	AdminMaxBody        int64         `env:"TAXII_ADMIN_MAX_BODY" help:"largest request body of the admin API, in bytes"`
	AdminListLimit      int           `env:"TAXII_ADMIN_LIST_LIMIT" help:"items per page of an admin API list when the client gives no limit"`
	AdminMaxListLimit   int           `env:"TAXII_ADMIN_MAX_LIST_LIMIT" help:"largest page of an admin API list; a larger limit is capped"`
	AdminPreviewObjects int           `env:"TAXII_ADMIN_PREVIEW_OBJECTS" help:"most objects the admin API shows in a feed's preview"`
	AdminCountTimeout   time.Duration `env:"TAXII_ADMIN_COUNT_TIMEOUT" help:"longest the admin API's count of a filter not yet saved may run; past it the answer is 503"`
	AdminCountMax       int64         `env:"TAXII_ADMIN_COUNT_MAX" help:"most objects the admin API's count of a filter not yet saved reads; the answer then says at least this many"`
	KeyRotateGrace      time.Duration `env:"TAXII_KEY_ROTATE_GRACE" help:"how long a rotated key's old secret stays valid when the rotation names no grace"`
	KeyRotateMaxGrace   time.Duration `env:"TAXII_KEY_ROTATE_MAX_GRACE" help:"longest grace a key rotation may ask for"`
	AuditRetention      time.Duration `env:"TAXII_AUDIT_RETENTION" help:"how long entries of the admin audit log are kept"`
	AuditMaxRows        int           `env:"TAXII_AUDIT_MAX_ROWS" help:"most entries the admin audit log keeps; the oldest go first"`
	AuditPurgeEvery     time.Duration `env:"TAXII_AUDIT_PURGE_INTERVAL" help:"how often serve trims the admin audit log to TAXII_AUDIT_RETENTION and TAXII_AUDIT_MAX_ROWS"`

	RateLimit      float64 `env:"TAXII_RATE_LIMIT" help:"TAXII requests per second allowed per API key, per replica (0: no limit)"`
	RateLimitBurst int     `env:"TAXII_RATE_LIMIT_BURST" help:"requests a key may make at once above TAXII_RATE_LIMIT"`

	ImportListMax      int           `env:"TAXII_IMPORT_LIST_MAX" help:"rejected or conflicting objects an import lists one by one (per file, per admin import job); the rest are counted"`
	ImportMaxBytes     int64         `env:"TAXII_IMPORT_MAX_BYTES" help:"largest body of an admin API import, in bytes (streamed, never held in memory)"`
	ImportJobRetention time.Duration `env:"TAXII_IMPORT_JOB_RETENTION" help:"how long finished admin import jobs stay readable"`

	Console              bool          `env:"TAXII_CONSOLE" help:"serve the web console at /console/ (log in with an admin API key)"`
	ConsoleSessionTTL    time.Duration `env:"TAXII_CONSOLE_SESSION_TTL" help:"how long a web console login lasts before the admin key must be entered again"`
	ConsoleLoginAttempts int           `env:"TAXII_CONSOLE_LOGIN_ATTEMPTS" help:"web console login attempts allowed per client address per minute, per replica"`
}

// Maxima: a setting above these is refused, so a typo cannot open the server wide.
// They and Default are the only home of limits: the packages below (taxii, stix,
// server) receive values and keep no defaults or ceilings of their own.
const (
	MaxPageSizeLimit      = 100_000
	MaxContentLengthLimit = 1 << 30
	MaxObjectsLimit       = 1_000_000
	MaxObjectSizeLimit    = 256 << 20
	MaxJSONDepthLimit     = 1_000
	MaxJSONPropsLimit     = 1 << 20
	MaxMatchIDsLimit      = 5_000
	MaxMatchValuesLimit   = 1_000
	MaxStatusPurgeBatch   = 1_000_000
	MaxExportLimit        = 100_000
	MaxExportScan         = 1_000_000
	MaxTemplateLength     = 64 << 10
	MaxListBatch          = 100_000
	MaxFeedStatsTTL       = 24 * time.Hour
	MaxStatementTimeout   = time.Hour
	MaxLockTimeout        = 10 * time.Minute
	MaxConnectionsLimit   = 1_000_000
	MaxFeedBuildStep      = 1_000_000
	MaxRequestsPerKeyMax  = 10_000
	MaxPageBufferMemory   = 16 << 30
	MaxPageWriteTimeout   = time.Hour
	MaxAddBytesLimit      = 16 << 30
	MaxAddSpoolMemory     = 16 << 30
	MaxStatusReadsLimit   = 1_000
	MaxStatusBufferMemory = 16 << 30
	MaxSourcePollInterval = time.Hour
	MaxSourceLease        = 24 * time.Hour
	MaxSourceHTTPTimeout  = time.Hour
	MaxUsageFlushInterval = time.Hour
	MaxUsageRetention     = 400 * 24 * time.Hour
	MaxUsageEntries       = 10_000_000
	MaxImportListMax      = 100_000
	MaxImportBytes        = 1 << 40
	MaxImportJobRetention = 365 * 24 * time.Hour
	MaxAdminBody          = 64 << 20
	MaxAdminListLimit     = 100_000
	MaxAdminPreview       = 1_000
	MaxAdminCountTimeout  = 5 * time.Minute
	MaxAdminCountMax      = 1_000_000_000
	MaxKeyRotateGrace     = 90 * 24 * time.Hour
	MaxAuditRetention     = 10 * 365 * 24 * time.Hour
	MaxAuditRows          = 100_000_000
	MaxAuditPurgeEvery    = 24 * time.Hour
	MaxConsoleSessionTTL  = 7 * 24 * time.Hour
	MaxConsoleLogins      = 1_000
)

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		DataDir:            "./data",
		AutoMigrate:        true,
		Listen:             ":8080",
		APIRootPath:        "/api/v2/inthreat/taxii-server/",
		Title:              "TAXII 2.1 server",
		Description:        "Cyber threat intelligence feeds over TAXII 2.1",
		APIRootTitle:       "Threat intelligence feeds",
		APIRootDescription: "Every feed is a collection",
		DefaultPageSize:    1000,
		MaxPageSize:        10000,
		MaxContentLength:   100 << 20,
		MaxObjectsPerAdd:   100_000,
		MaxObjectSize:      10 << 20,
		MaxJSONDepth:       64,
		MaxJSONProps:       10_000,
		StatusTTL:          24 * time.Hour,
		StatusPurgeEvery:   time.Minute,
		StatusPurgeBatch:   10_000,
		MaxMatchIDs:        1000,
		MaxMatchValues:     100,
		ReadHeaderTimeout:  10 * time.Second,
		ReadTimeout:        5 * time.Minute,
		IdleTimeout:        2 * time.Minute,
		ShutdownTimeout:    30 * time.Second,
		LogLevel:           "info",
		LogFormat:          "json",
		TLSReloadInterval:  time.Minute,
		RateLimitBurst:     20,

		ExportDefaultLimit:   100,
		ExportMaxLimit:       2000,
		ExportMaxScan:        20_000,
		ExportMaxTemplateLen: 1024,
		ListBatch:            10_000,

		FeedStatsTTL:       time.Minute,
		DBStatementTimeout: time.Minute,
		DBLockTimeout:      30 * time.Second,
		FeedBuildStep:      store.DefaultFeedBuildStep,
		MaxConnections:     1000,
		MaxRequestsPerKey:  32,
		PageBufferMemory:   256 << 20,
		PageWriteTimeout:   time.Minute,
		MaxAddBytes:        256 << 20,
		AddSpoolMemory:     64 << 20,
		MaxStatusReads:     4,
		StatusBufferMemory: 32 << 20,
		SourcePollInterval: 5 * time.Second,
		SourceLease:        10 * time.Minute,
		SourceHTTPTimeout:  5 * time.Minute,
		UsageFlushInterval: 30 * time.Second,
		UsageRetention:     30 * 24 * time.Hour,
		UsageMaxEntries:    100_000,
		ImportListMax:      100,
		ImportMaxBytes:     10 << 30,
		ImportJobRetention: 7 * 24 * time.Hour,

		AdminMaxBody:        1 << 20,
		AdminListLimit:      100,
		AdminMaxListLimit:   1000,
		AdminPreviewObjects: 10,
		AdminCountTimeout:   5 * time.Second,
		AdminCountMax:       1_000_000,
		KeyRotateGrace:      24 * time.Hour,
		KeyRotateMaxGrace:   7 * 24 * time.Hour,
		AuditRetention:      365 * 24 * time.Hour,
		AuditMaxRows:        1_000_000,
		AuditPurgeEvery:     time.Hour,

		Console:              true,
		ConsoleSessionTTL:    8 * time.Hour,
		ConsoleLoginAttempts: 10,
	}
}

// FromEnv starts from Default and applies every variable getenv knows.
// A variable ending in _FILE (e.g. TAXII_DATABASE_URL_FILE) is read from that file.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Default()
	var errs []error
	eachField(&c, func(f reflect.StructField, v reflect.Value) {
		name := f.Tag.Get("env")
		raw := getenv(name)
		path := getenv(name + "_FILE")
		if raw != "" && path != "" {
			errs = append(errs, fmt.Errorf("%s and %s_FILE: set one, not both", name, name))
			return
		}
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
				return
			}
			raw = strings.TrimSpace(string(b))
		}
		if raw == "" {
			return
		}
		if err := setValue(v, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	})
	return c, errors.Join(errs...)
}

// RegisterFlags adds a flag for every setting to fs, or for the settings only names
// (environment variable names) when given, so flags override the environment.
// Flag names are the variable's, e.g. --listen.
func (c *Config) RegisterFlags(fs *flag.FlagSet, only ...string) {
	eachField(c, func(f reflect.StructField, v reflect.Value) {
		if len(only) > 0 && !slices.Contains(only, f.Tag.Get("env")) {
			return
		}
		name := FlagName(f.Tag.Get("env"))
		fs.Func(name, f.Tag.Get("help")+" ("+f.Tag.Get("env")+")", func(s string) error { return setValue(v, s) })
	})
}

// FlagName turns TAXII_API_ROOT_PATH into api-root-path.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "TAXII_")), "_", "-")
}

func eachField(c *Config, fn func(reflect.StructField, reflect.Value)) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fn(t.Field(i), v.Field(i))
	}
}

func setValue(v reflect.Value, raw string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		v.SetBool(b)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", raw)
		}
		v.SetFloat(f)
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			d, err := time.ParseDuration(raw)
			if err != nil {
				return fmt.Errorf("%q is not a duration such as 30s or 24h", raw)
			}
			v.SetInt(int64(d))
			return nil
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		v.SetInt(n)
	default:
		return fmt.Errorf("unsupported setting type %s", v.Kind())
	}
	return nil
}

// Validate reports every invalid setting at once, normalising what it can.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch c.StoreKind() {
	case "postgres", "sqlite":
	default:
		bad("TAXII_DATABASE_URL: %q is neither postgres://... nor sqlite://PATH", redactURL(c.DatabaseURL))
	}
	if c.StoreKind() == "sqlite" && c.DatabaseURL == "" && c.DataDir == "" {
		bad("TAXII_DATA_DIR: must not be empty with the embedded store")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("TAXII_LISTEN: %q is not host:port such as :8080", c.Listen)
	}
	p := c.APIRootPath
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#{}* ") || p == "/" || strings.HasPrefix(p, "/taxii2") || strings.HasPrefix(p, "/console/") {
		bad("TAXII_API_ROOT_PATH: %q must be an absolute path such as /api/v2/inthreat/taxii-server/, not / nor under /taxii2 or /console", p)
	} else if !strings.HasSuffix(p, "/") {
		c.APIRootPath = p + "/"
	}
	if c.PublicBaseURL != "" {
		u, err := url.Parse(c.PublicBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("TAXII_PUBLIC_BASE_URL: %q must look like https://taxii.example.com", c.PublicBaseURL)
		} else {
			c.PublicBaseURL = strings.TrimSuffix(c.PublicBaseURL, "/")
		}
	}
	if c.MaxPageSize < 1 || c.MaxPageSize > MaxPageSizeLimit {
		bad("TAXII_MAX_PAGE_SIZE: %d must be between 1 and %d", c.MaxPageSize, MaxPageSizeLimit)
	}
	if c.DefaultPageSize < 1 || c.DefaultPageSize > c.MaxPageSize {
		bad("TAXII_DEFAULT_PAGE_SIZE: %d must be between 1 and TAXII_MAX_PAGE_SIZE (%d)", c.DefaultPageSize, c.MaxPageSize)
	}
	if c.MaxContentLength < 1024 || c.MaxContentLength > MaxContentLengthLimit {
		bad("TAXII_MAX_CONTENT_LENGTH: %d must be between 1024 and %d bytes", c.MaxContentLength, MaxContentLengthLimit)
	}
	if c.MaxObjectsPerAdd < 1 || c.MaxObjectsPerAdd > MaxObjectsLimit {
		bad("TAXII_MAX_OBJECTS_PER_REQUEST: %d must be between 1 and %d", c.MaxObjectsPerAdd, MaxObjectsLimit)
	}
	if c.MaxObjectSize < 1024 || int64(c.MaxObjectSize) > c.MaxContentLength || c.MaxObjectSize > MaxObjectSizeLimit {
		bad("TAXII_MAX_OBJECT_SIZE: %d must be between 1024 and TAXII_MAX_CONTENT_LENGTH, at most %d", c.MaxObjectSize, MaxObjectSizeLimit)
	}
	if c.MaxJSONDepth < 2 || c.MaxJSONDepth > MaxJSONDepthLimit {
		bad("TAXII_MAX_JSON_DEPTH: %d must be between 2 and %d", c.MaxJSONDepth, MaxJSONDepthLimit)
	}
	if c.MaxJSONProps < 16 || c.MaxJSONProps > MaxJSONPropsLimit {
		bad("TAXII_MAX_JSON_PROPERTIES: %d must be between 16 and %d", c.MaxJSONProps, MaxJSONPropsLimit)
	}
	if c.SourcePollInterval < 100*time.Millisecond || c.SourcePollInterval > MaxSourcePollInterval {
		bad("TAXII_SOURCE_POLL_INTERVAL: %s must be between 100ms and %s", c.SourcePollInterval, MaxSourcePollInterval)
	}
	if c.SourceHTTPTimeout < time.Second || c.SourceHTTPTimeout > MaxSourceHTTPTimeout {
		bad("TAXII_SOURCE_HTTP_TIMEOUT: %s must be between 1s and %s", c.SourceHTTPTimeout, MaxSourceHTTPTimeout)
	}
	if c.SourceLease < 2*c.SourceHTTPTimeout || c.SourceLease > MaxSourceLease {
		bad("TAXII_SOURCE_LEASE: %s must be at least twice TAXII_SOURCE_HTTP_TIMEOUT and at most %s", c.SourceLease, MaxSourceLease)
	}
	if c.UsageFlushInterval < time.Second || c.UsageFlushInterval > MaxUsageFlushInterval {
		bad("TAXII_USAGE_FLUSH_INTERVAL: %s must be between 1s and %s", c.UsageFlushInterval, MaxUsageFlushInterval)
	}
	if c.UsageRetention < 24*time.Hour || c.UsageRetention > MaxUsageRetention {
		bad("TAXII_USAGE_RETENTION: %s must be between 24h and %s", c.UsageRetention, MaxUsageRetention)
	}
	if c.UsageMaxEntries < 1 || c.UsageMaxEntries > MaxUsageEntries {
		bad("TAXII_USAGE_MAX_ENTRIES: %d must be between 1 and %d", c.UsageMaxEntries, MaxUsageEntries)
	}
	if c.ImportListMax < 0 || c.ImportListMax > MaxImportListMax {
		bad("TAXII_IMPORT_LIST_MAX: %d must be between 0 and %d", c.ImportListMax, MaxImportListMax)
	}
	if c.ImportMaxBytes < 1024 || c.ImportMaxBytes > MaxImportBytes {
		bad("TAXII_IMPORT_MAX_BYTES: %d must be between 1024 and %d", c.ImportMaxBytes, int64(MaxImportBytes))
	}
	if c.ImportJobRetention < time.Minute || c.ImportJobRetention > MaxImportJobRetention {
		bad("TAXII_IMPORT_JOB_RETENTION: %s must be between 1m and %s", c.ImportJobRetention, MaxImportJobRetention)
	}
	if c.StatusTTL < time.Minute {
		bad("TAXII_STATUS_TTL: %s is shorter than a minute", c.StatusTTL)
	}
	if c.StatusPurgeEvery < time.Second || c.StatusPurgeEvery > 24*time.Hour {
		bad("TAXII_STATUS_PURGE_INTERVAL: %s must be between 1s and 24h", c.StatusPurgeEvery)
	}
	if c.StatusPurgeBatch < 1 || c.StatusPurgeBatch > MaxStatusPurgeBatch {
		bad("TAXII_STATUS_PURGE_BATCH: %d must be between 1 and %d", c.StatusPurgeBatch, MaxStatusPurgeBatch)
	}
	if c.MaxMatchIDs < 1 || c.MaxMatchIDs > MaxMatchIDsLimit {
		bad("TAXII_MAX_MATCH_IDS: %d must be between 1 and %d", c.MaxMatchIDs, MaxMatchIDsLimit)
	}
	if c.MaxMatchValues < 1 || c.MaxMatchValues > MaxMatchValuesLimit {
		bad("TAXII_MAX_MATCH_VALUES: %d must be between 1 and %d", c.MaxMatchValues, MaxMatchValuesLimit)
	}
	for name, d := range map[string]time.Duration{
		"TAXII_READ_HEADER_TIMEOUT": c.ReadHeaderTimeout, "TAXII_READ_TIMEOUT": c.ReadTimeout,
		"TAXII_WRITE_TIMEOUT": c.WriteTimeout, "TAXII_IDLE_TIMEOUT": c.IdleTimeout, "TAXII_SHUTDOWN_TIMEOUT": c.ShutdownTimeout,
	} {
		if d < 0 {
			bad("%s: %s is negative", name, d)
		}
	}
	if c.ReadHeaderTimeout == 0 {
		bad("TAXII_READ_HEADER_TIMEOUT: must be set, or slow clients can hold connections forever")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("TAXII_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		bad("TAXII_LOG_FORMAT: %q is not json or console", c.LogFormat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("TAXII_TLS_CERT and TAXII_TLS_KEY: set both or neither")
	}
	if c.TLSReloadInterval != 0 && c.TLSReloadInterval < time.Second {
		bad("TAXII_TLS_RELOAD_INTERVAL: %s is shorter than a second (0 turns the file check off)", c.TLSReloadInterval)
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		bad("TAXII_TRUSTED_PROXIES: %v", err)
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("TAXII_METRICS_LISTEN: %q is not host:port such as :9090", c.MetricsListen)
		} else if c.MetricsListen == c.Listen && port != "0" { // port 0: each listener gets its own
			bad("TAXII_METRICS_LISTEN: %q is TAXII_LISTEN; use TAXII_METRICS_ON_MAIN=true to serve /metrics there", c.MetricsListen)
		}
	}
	if c.ExportMaxLimit < 1 || c.ExportMaxLimit > MaxExportLimit {
		bad("TAXII_EXPORT_MAX_LIMIT: %d must be between 1 and %d", c.ExportMaxLimit, MaxExportLimit)
	}
	if c.ExportDefaultLimit < 1 || c.ExportDefaultLimit > c.ExportMaxLimit {
		bad("TAXII_EXPORT_DEFAULT_LIMIT: %d must be between 1 and TAXII_EXPORT_MAX_LIMIT (%d)", c.ExportDefaultLimit, c.ExportMaxLimit)
	}
	if c.ExportMaxScan < c.ExportMaxLimit || c.ExportMaxScan > MaxExportScan {
		bad("TAXII_EXPORT_MAX_SCAN: %d must be between TAXII_EXPORT_MAX_LIMIT (%d) and %d", c.ExportMaxScan, c.ExportMaxLimit, MaxExportScan)
	}
	if c.ExportMaxTemplateLen < 16 || c.ExportMaxTemplateLen > MaxTemplateLength {
		bad("TAXII_EXPORT_MAX_TEMPLATE_LENGTH: %d must be between 16 and %d", c.ExportMaxTemplateLen, MaxTemplateLength)
	}
	if c.ListBatch < 100 || c.ListBatch > MaxListBatch {
		bad("TAXII_LIST_BATCH: %d must be between 100 and %d", c.ListBatch, MaxListBatch)
	}
	if c.AdminMaxBody < 1<<10 || c.AdminMaxBody > MaxAdminBody {
		bad("TAXII_ADMIN_MAX_BODY: %d must be between 1024 and %d", c.AdminMaxBody, MaxAdminBody)
	}
	if c.AdminMaxListLimit < 1 || c.AdminMaxListLimit > MaxAdminListLimit {
		bad("TAXII_ADMIN_MAX_LIST_LIMIT: %d must be between 1 and %d", c.AdminMaxListLimit, MaxAdminListLimit)
	}
	if c.AdminListLimit < 1 || c.AdminListLimit > c.AdminMaxListLimit {
		bad("TAXII_ADMIN_LIST_LIMIT: %d must be between 1 and TAXII_ADMIN_MAX_LIST_LIMIT (%d)", c.AdminListLimit, c.AdminMaxListLimit)
	}
	if c.AdminPreviewObjects < 0 || c.AdminPreviewObjects > MaxAdminPreview {
		bad("TAXII_ADMIN_PREVIEW_OBJECTS: %d must be between 0 and %d", c.AdminPreviewObjects, MaxAdminPreview)
	}
	if c.AdminCountTimeout < 10*time.Millisecond || c.AdminCountTimeout > MaxAdminCountTimeout {
		bad("TAXII_ADMIN_COUNT_TIMEOUT: %s must be between 10ms and %s", c.AdminCountTimeout, MaxAdminCountTimeout)
	}
	if c.AdminCountMax < 1 || c.AdminCountMax > MaxAdminCountMax {
		bad("TAXII_ADMIN_COUNT_MAX: %d must be between 1 and %d", c.AdminCountMax, MaxAdminCountMax)
	}
	if c.KeyRotateMaxGrace < 0 || c.KeyRotateMaxGrace > MaxKeyRotateGrace {
		bad("TAXII_KEY_ROTATE_MAX_GRACE: %s must be between 0 and %s", c.KeyRotateMaxGrace, MaxKeyRotateGrace)
	}
	if c.KeyRotateGrace < 0 || c.KeyRotateGrace > c.KeyRotateMaxGrace {
		bad("TAXII_KEY_ROTATE_GRACE: %s must be between 0 and TAXII_KEY_ROTATE_MAX_GRACE (%s)", c.KeyRotateGrace, c.KeyRotateMaxGrace)
	}
	if c.AuditRetention < time.Hour || c.AuditRetention > MaxAuditRetention {
		bad("TAXII_AUDIT_RETENTION: %s must be between 1h and %s", c.AuditRetention, MaxAuditRetention)
	}
	if c.AuditMaxRows < 100 || c.AuditMaxRows > MaxAuditRows {
		bad("TAXII_AUDIT_MAX_ROWS: %d must be between 100 and %d", c.AuditMaxRows, MaxAuditRows)
	}
	if c.AuditPurgeEvery < time.Second || c.AuditPurgeEvery > MaxAuditPurgeEvery {
		bad("TAXII_AUDIT_PURGE_INTERVAL: %s must be between 1s and %s", c.AuditPurgeEvery, MaxAuditPurgeEvery)
	}
	if c.FeedStatsTTL < time.Second || c.FeedStatsTTL > MaxFeedStatsTTL {
		bad("TAXII_FEED_STATS_TTL: %s must be between 1s and %s", c.FeedStatsTTL, MaxFeedStatsTTL)
	}
	if c.DBStatementTimeout < 10*time.Millisecond || c.DBStatementTimeout > MaxStatementTimeout {
		bad("TAXII_DB_STATEMENT_TIMEOUT: %s must be between 10ms and %s", c.DBStatementTimeout, MaxStatementTimeout)
	}
	if c.DBLockTimeout < 10*time.Millisecond || c.DBLockTimeout > MaxLockTimeout {
		bad("TAXII_DB_LOCK_TIMEOUT: %s must be between 10ms and %s", c.DBLockTimeout, MaxLockTimeout)
	}
	if c.FeedBuildStep < 100 || c.FeedBuildStep > MaxFeedBuildStep {
		bad("TAXII_FEED_BUILD_STEP: %d must be between 100 and %d", c.FeedBuildStep, MaxFeedBuildStep)
	}
	if c.MaxConnections < 1 || c.MaxConnections > MaxConnectionsLimit {
		bad("TAXII_MAX_CONNECTIONS: %d must be between 1 and %d", c.MaxConnections, MaxConnectionsLimit)
	}
	if c.MaxRequestsPerKey < 1 || c.MaxRequestsPerKey > MaxRequestsPerKeyMax {
		bad("TAXII_MAX_REQUESTS_PER_KEY: %d must be between 1 and %d", c.MaxRequestsPerKey, MaxRequestsPerKeyMax)
	}
	if c.PageBufferMemory < 1<<20 || c.PageBufferMemory > MaxPageBufferMemory {
		bad("TAXII_PAGE_BUFFER_MEMORY: %d must be between 1 MiB and %d bytes", c.PageBufferMemory, int64(MaxPageBufferMemory))
	}
	if c.PageWriteTimeout < time.Second || c.PageWriteTimeout > MaxPageWriteTimeout {
		bad("TAXII_PAGE_WRITE_TIMEOUT: %s must be between 1s and %s", c.PageWriteTimeout, MaxPageWriteTimeout)
	}
	if c.MaxAddBytes < c.MaxContentLength || c.MaxAddBytes > MaxAddBytesLimit {
		bad("TAXII_MAX_ADD_BYTES: %d must be between TAXII_MAX_CONTENT_LENGTH (%d) and %d bytes", c.MaxAddBytes, c.MaxContentLength, int64(MaxAddBytesLimit))
	}
	if c.AddSpoolMemory < 0 || c.AddSpoolMemory > MaxAddSpoolMemory {
		bad("TAXII_ADD_SPOOL_MEMORY: %d must be between 0 and %d bytes", c.AddSpoolMemory, int64(MaxAddSpoolMemory))
	}
	if c.MaxStatusReads < 1 || c.MaxStatusReads > MaxStatusReadsLimit {
		bad("TAXII_MAX_STATUS_READS: %d must be between 1 and %d", c.MaxStatusReads, MaxStatusReadsLimit)
	}
	if c.StatusBufferMemory < 0 || c.StatusBufferMemory > MaxStatusBufferMemory {
		bad("TAXII_STATUS_BUFFER_MEMORY: %d must be between 0 and %d bytes", c.StatusBufferMemory, int64(MaxStatusBufferMemory))
	}
	if c.RateLimit < 0 {
		bad("TAXII_RATE_LIMIT: %g is negative", c.RateLimit)
	}
	if c.RateLimitBurst < 1 {
		bad("TAXII_RATE_LIMIT_BURST: %d must be at least 1", c.RateLimitBurst)
	}
	if c.ConsoleSessionTTL < time.Minute || c.ConsoleSessionTTL > MaxConsoleSessionTTL {
		bad("TAXII_CONSOLE_SESSION_TTL: %s must be between 1m and %s", c.ConsoleSessionTTL, MaxConsoleSessionTTL)
	}
	if c.ConsoleLoginAttempts < 1 || c.ConsoleLoginAttempts > MaxConsoleLogins {
		bad("TAXII_CONSOLE_LOGIN_ATTEMPTS: %d must be between 1 and %d", c.ConsoleLoginAttempts, MaxConsoleLogins)
	}
	return errors.Join(errs...)
}

// TrustedProxyPrefixes parses TAXII_TRUSTED_PROXIES: IPs (a /32 or /128) and CIDRs, comma-separated.
func (c Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR such as 10.0.0.0/8", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// StoreLimits are the database time limits of every store call, and the size of a feed build's steps.
func (c Config) StoreLimits() store.Limits {
	return store.Limits{StatementTimeout: c.DBStatementTimeout, LockTimeout: c.DBLockTimeout, FeedBuildStep: c.FeedBuildStep}
}

// ObjectLimits bound one object read from a client, an import or an upstream:
// its size, JSON depth and properties.
func (c Config) ObjectLimits() stix.Limits {
	return stix.Limits{MaxObjectSize: c.MaxObjectSize, MaxDepth: c.MaxJSONDepth, MaxProperties: c.MaxJSONProps}
}

// TLS reports whether the server serves HTTPS itself.
func (c Config) TLS() bool { return c.TLSCert != "" && c.TLSKey != "" }

// StoreKind is "postgres", "sqlite", or "" when the URL is neither.
func (c Config) StoreKind() string {
	switch {
	case c.DatabaseURL == "", strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		return "sqlite"
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		return "postgres"
	}
	return ""
}

// SqlitePath is the embedded store's file.
func (c Config) SqlitePath() string {
	if p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite://"); ok && p != "" {
		return p
	}
	return filepath.Join(c.DataDir, "taxii.db")
}

// String lists every setting as NAME=value, secrets redacted; for `taxii-server config`.
func (c Config) String() string {
	var b strings.Builder
	eachField(&c, func(f reflect.StructField, v reflect.Value) {
		val := fmt.Sprint(v.Interface())
		if f.Tag.Get("secret") == "url" {
			val = redactURL(val)
		} else if f.Tag.Get("secret") != "" && val != "" {
			val = "REDACTED"
		}
		fmt.Fprintf(&b, "%s=%s\n", f.Tag.Get("env"), val)
	})
	return b.String()
}

// Redacted replaces a secret's value in printed text.
const Redacted = "REDACTED"

var (
	// A parameter or keyword whose value is a secret: password, sslpassword, and
	// anything else named like one (x_token, client_secret...).
	secretName = `[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token)`
	// ...=value in a URL query.
	secretParam = regexp.MustCompile(`(?i)([?&;]` + secretName + `=)[^&#;]*`)
	// name=value and name = 'quoted value' in a keyword/value DSN or any text.
	secretKeyword = regexp.MustCompile(`(?i)(^|[\s,;("'])(` + secretName + `\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]*)`)
	// scheme://user:password@ when the URL does not parse; up to the last @ before
	// the path, so that an @ in the password cannot leave its tail visible.
	secretUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^/\s]*@`)
)

// RedactSecrets hides every secret in s: the password of a URL's user
// (postgres://user:REDACTED@host), password-like query parameters
// (?sslpassword=REDACTED) and password-like keywords of a keyword/value DSN or
// message (host=db password=REDACTED). It works on any text, such as an error
// message that quotes a database URL.
func RedactSecrets(s string) string {
	s = secretUserinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = secretParam.ReplaceAllString(s, "${1}"+Redacted)
	return secretKeyword.ReplaceAllString(s, "${1}${2}"+Redacted)
}

func redactURL(s string) string { return RedactSecrets(s) }

// EnvNames lists every variable the configuration reads, in declaration order.
// Each NAME may also be given as NAME_FILE.
func EnvNames() []string {
	var names []string
	d := Default()
	eachField(&d, func(f reflect.StructField, _ reflect.Value) { names = append(names, f.Tag.Get("env")) })
	return names
}

// Unknown returns the TAXII_* variables in environ (NAME=value pairs) that no setting
// reads, each with a suggestion when a known name is close: typos otherwise pass silently.
func Unknown(environ []string) []string {
	known := map[string]bool{"TAXII_TEST_DATABASE_URL": true} // the test suite's database
	names := EnvNames()
	for _, n := range names {
		known[n], known[n+"_FILE"] = true, true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "TAXII_") || known[name] {
			continue
		}
		msg := name
		if s := closest(name, names); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}

// closest is the known name a typo most likely meant: one that extends it, or one
// within two edits; "" when none is.
func closest(name string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if strings.HasPrefix(n, name+"_") {
			return n
		}
		if d := editDistance(name, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Usage describes the settings named (environment variable names) as flags,
// with their variables and defaults, for a command's --help.
func Usage(names []string) string {
	d := Default()
	var b strings.Builder
	eachField(&d, func(f reflect.StructField, v reflect.Value) {
		env := f.Tag.Get("env")
		if !slices.Contains(names, env) {
			return
		}
		def := fmt.Sprint(v.Interface())
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(&b, "  --%s (%s)\n        %s (default %s)\n", FlagName(env), env, f.Tag.Get("help"), def)
	})
	return b.String()
}

// Help lists every variable with its default, for the README and --help.
func Help() string {
	d := Default()
	var b strings.Builder
	eachField(&d, func(f reflect.StructField, v reflect.Value) {
		fmt.Fprintf(&b, "  %-32s %s (default %q)\n", f.Tag.Get("env"), f.Tag.Get("help"), fmt.Sprint(v.Interface()))
	})
	return b.String()
}
