package admin

import "github.com/inthreat/taxii-server/internal/config"

// OptionsFrom is the one translation of the configuration into the admin
// service's options, for serve and the tests that assemble it (as
// taxii.OptionsFrom is for the TAXII handler).
func OptionsFrom(cfg config.Config) Options {
	return Options{
		ListLimit: cfg.AdminListLimit, MaxListLimit: cfg.AdminMaxListLimit, PreviewObjects: cfg.AdminPreviewObjects,
		CountTimeout: cfg.AdminCountTimeout, CountMax: cfg.AdminCountMax, StatsTTL: cfg.FeedStatsTTL,
		RotateGrace: cfg.KeyRotateGrace, MaxRotateGrace: cfg.KeyRotateMaxGrace,
		AuditRetention: cfg.AuditRetention, AuditMaxRows: cfg.AuditMaxRows, MaxTemplateLength: cfg.ExportMaxTemplateLen,
		Imports: ImportOptions{Limits: cfg.ObjectLimits(), Strict: cfg.StrictValidation, ListMax: cfg.ImportListMax,
			MaxBytes: cfg.ImportMaxBytes, Retention: cfg.ImportJobRetention},
	}
}

// APIOptionsFrom is the admin API's options from the configuration; Now is the caller's.
func APIOptionsFrom(cfg config.Config) APIOptions {
	return APIOptions{MaxBody: cfg.AdminMaxBody}
}
