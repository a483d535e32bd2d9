package export

import "github.com/inthreat/taxii-server/internal/config"

// OptionsFrom is the one translation of the configuration into the export API's
// options, for serve and for the tests that assemble a server (as
// taxii.OptionsFrom is for the TAXII handler). PerKey, Metrics and Now are the
// caller's.
func OptionsFrom(cfg config.Config) Options {
	return Options{
		Prefix:            PrefixOf(cfg.APIRootPath),
		DefaultLimit:      cfg.ExportDefaultLimit,
		MaxLimit:          cfg.ExportMaxLimit,
		MaxScan:           cfg.ExportMaxScan,
		MaxTemplateLength: cfg.ExportMaxTemplateLen,
		ListBatch:         cfg.ListBatch,
		ListKeyInQuery:    cfg.ListKeyInQuery,
	}
}
