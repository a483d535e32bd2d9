package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// No command prints a secret of the database URL: not `config`, not a config
// error, not a driver error that quotes the URL. Each secret below starts "s3".
func TestSecretsAreNeverPrinted(t *testing.T) {
	kvFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(kvFile, []byte("host=db user=taxii password=s3cr3t sslpassword='s3 cr3t'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"ConfigURL", map[string]string{"TAXII_DATABASE_URL": "postgres://taxii:s3cr3t@db/taxii?sslpassword=s3cr3t2&password=s3cr3t3"}, []string{"config"}},
		{"ConfigKeywordValueFromFile", map[string]string{"TAXII_DATABASE_URL_FILE": kvFile}, []string{"config"}},
		{"ConfigErrorKeywordValue", map[string]string{"TAXII_DATABASE_URL": "host=db password=s3cr3t", "TAXII_MAX_PAGE_SIZE": "0"}, []string{"config"}},
		{"DriverError", map[string]string{"TAXII_DATABASE_URL": "postgres://taxii:s3cr3t@127.0.0.1:notaport/taxii?sslpassword=s3cr3t2"}, []string{"migrate"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &binary{t: t, env: tt.env}
			out, errOut, err := b.run(t.Context(), "", tt.args...)
			all := out + errOut
			if err != nil {
				all += err.Error()
			}
			if strings.Contains(all, "s3") {
				t.Fatalf("a secret is printed:\n%s", all)
			}
			if !strings.Contains(all, "REDACTED") {
				t.Fatalf("nothing says a secret was redacted:\n%s", all)
			}
		})
	}
}
