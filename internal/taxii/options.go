package taxii

import (
	"github.com/inthreat/taxii-server/internal/config"
)

// OptionsFrom is the one translation of the configuration into the TAXII
// handler's options, for serve and for every test and benchmark that builds
// a handler: options built by hand elsewhere missed each new limit in turn.
// PerKey, Now and the metrics hooks are the caller's.
func OptionsFrom(cfg config.Config) Options {
	return Options{
		APIRootPath:        cfg.APIRootPath,
		Title:              cfg.Title,
		Description:        cfg.Description,
		Contact:            cfg.Contact,
		APIRootTitle:       cfg.APIRootTitle,
		APIRootDescription: cfg.APIRootDescription,
		DefaultPageSize:    cfg.DefaultPageSize,
		MaxPageSize:        cfg.MaxPageSize,
		MaxContentLength:   cfg.MaxContentLength,
		PublicBaseURL:      cfg.PublicBaseURL,
		MaxObjectsPerAdd:   cfg.MaxObjectsPerAdd,
		ObjectLimits:       cfg.ObjectLimits(),
		StrictValidation:   cfg.StrictValidation,
		StatusTTL:          cfg.StatusTTL,
		MaxMatchIDs:        cfg.MaxMatchIDs,
		MaxMatchValues:     cfg.MaxMatchValues,
		PageBufferMemory:   cfg.PageBufferMemory,
		PageWriteTimeout:   cfg.PageWriteTimeout,
		MaxRequestsPerKey:  cfg.MaxRequestsPerKey,
		MaxAddBytes:        cfg.MaxAddBytes,
		AddSpoolMemory:     cfg.AddSpoolMemory,
		MaxStatusReads:     cfg.MaxStatusReads,
		StatusBufferMemory: cfg.StatusBufferMemory,
	}
}
