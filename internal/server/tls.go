package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// TLSConfig is the HTTPS configuration: TLS 1.2 at least, and for TLS 1.2 only
// ECDHE key exchange with AEAD ciphers (TLS 1.3 suites are all modern and not
// configurable in Go). Certificates come from getCertificate at each handshake.
func TLSConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate: getCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// CertReloader serves a certificate and key pair from files and reloads them when
// they change: on Reload (SIGHUP) or when Watch sees new contents. A handshake
// always gets a complete pair; established connections keep theirs, so nothing drops.
// A pair that does not load (half-written, key not matching) is logged and the
// previous one stays in use.
type CertReloader struct {
	certFile, keyFile string
	log               *zap.Logger

	mu     sync.RWMutex
	cert   *tls.Certificate
	digest [sha256.Size]byte
}

// LoadCertificate reads the pair once; an error here stops the server from starting.
func LoadCertificate(certFile, keyFile string, log *zap.Logger) (*CertReloader, error) {
	if log == nil {
		log = zap.NewNop()
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// NotAfter is the expiry of the certificate in use, for the expiry metric.
func (c *CertReloader) NotAfter() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert.Leaf.NotAfter
}

// Reload reads the files and, when their contents changed, swaps in the new pair.
// It reports whether it did.
func (c *CertReloader) Reload() (bool, error) {
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return false, fmt.Errorf("TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return false, fmt.Errorf("TLS key: %w", err)
	}
	d := sha256.Sum256(bytes.Join([][]byte{certPEM, keyPEM}, []byte{0}))
	c.mu.RLock()
	same := c.cert != nil && d == c.digest
	c.mu.RUnlock()
	if same {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return false, fmt.Errorf("TLS certificate %s: %w", c.certFile, err)
		}
		pair.Leaf = leaf
	}
	c.mu.Lock()
	c.cert, c.digest = &pair, d
	c.mu.Unlock()
	fields := []zap.Field{
		zap.String("subject", leaf.Subject.String()),
		zap.Strings("dns_names", leaf.DNSNames),
		zap.Time("not_after", leaf.NotAfter),
	}
	switch left := time.Until(leaf.NotAfter); {
	case left <= 0:
		c.log.Error("loaded an expired TLS certificate", fields...)
	case left < 14*24*time.Hour:
		c.log.Warn("loaded a TLS certificate that expires within 14 days", fields...)
	default:
		c.log.Info("loaded TLS certificate", fields...)
	}
	return true, nil
}

// Watch reloads the pair on each value from reload (SIGHUP) and, when every > 0,
// whenever the files' contents change, checked every interval, until ctx ends.
func (c *CertReloader) Watch(ctx context.Context, every time.Duration, reload <-chan struct{}) {
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			if changed, err := c.Reload(); err != nil {
				c.log.Error("TLS reload on signal failed; keeping the current certificate", zap.Error(err))
			} else if !changed {
				c.log.Info("TLS reload on signal: certificate files unchanged")
			}
		case <-tick:
			if _, err := c.Reload(); err != nil {
				c.log.Warn("TLS certificate files changed but do not load; keeping the current certificate", zap.Error(err))
			}
		}
	}
}
