package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/config"
)

// The secret in every case is "s3cr#t" or a variant; none may survive.
var secretForms = map[string]struct{ in, want string }{
	"URL":               {"postgres://taxii:s3cr3t@db:5432/taxii?sslmode=require", "postgres://taxii:REDACTED@db:5432/taxii?sslmode=require"},
	"URLWithAtInSecret": {"postgres://taxii:s3@cr3t@db/taxii", "postgres://taxii:REDACTED@db/taxii"},
	"QueryPassword":     {"postgres://db/taxii?user=taxii&password=s3cr3t&sslmode=verify-full", "postgres://db/taxii?user=taxii&password=REDACTED&sslmode=verify-full"},
	"QuerySSLPassword":  {"postgresql://taxii@db/taxii?sslkey=/k.pem&sslpassword=s3cr3t", "postgresql://taxii@db/taxii?sslkey=/k.pem&sslpassword=REDACTED"},
	"BothForms":         {"postgres://u:s3cr3t@db/x?password=s3cr3t2", "postgres://u:REDACTED@db/x?password=REDACTED"},
	"KeywordValue":      {"host=db user=taxii password=s3cr3t dbname=taxii", "host=db user=taxii password=REDACTED dbname=taxii"},
	"KeywordQuoted":     {"host=db password='s3 cr\\'3t' sslpassword = s3cr3t2 dbname=taxii", "host=db password=REDACTED sslpassword = REDACTED dbname=taxii"},
	"KeywordFirst":      {"password=s3cr3t host=db", "password=REDACTED host=db"},
	"NoSecret":          {"postgres://taxii@db/taxii?sslmode=disable", "postgres://taxii@db/taxii?sslmode=disable"},
	"SQLitePath":        {"sqlite:///var/lib/taxii/taxii.db", "sqlite:///var/lib/taxii/taxii.db"},
}

func TestRedactSecrets(t *testing.T) {
	for name, tt := range secretForms {
		t.Run(name, func(t *testing.T) {
			got := config.RedactSecrets(tt.in)
			if got != tt.want {
				t.Fatalf("RedactSecrets(%q)\n = %q\nwant %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "s3") {
				t.Fatalf("a secret survives: %q", got)
			}
		})
	}
}

// `taxii-server config` prints String; config errors print Validate's errors.
// Neither shows a secret, whether it came from the variable or from its _FILE.
func TestConfigNeverPrintsSecrets(t *testing.T) {
	for name, tt := range secretForms {
		for _, viaFile := range []bool{false, true} {
			env := map[string]string{"TAXII_DATABASE_URL": tt.in}
			if viaFile {
				path := filepath.Join(t.TempDir(), "db-url")
				if err := os.WriteFile(path, []byte(tt.in+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				env = map[string]string{"TAXII_DATABASE_URL_FILE": path}
			}
			c, err := config.FromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if c.DatabaseURL != tt.in {
				t.Fatalf("%s: database url %q, want %q", name, c.DatabaseURL, tt.in)
			}
			verr := c.Validate()
			out := c.String()
			if verr != nil {
				out += verr.Error()
			}
			if strings.Contains(out, "s3") {
				t.Errorf("%s (file %v): a secret is printed:\n%s", name, viaFile, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("%s (file %v): %q is not printed redacted:\n%s", name, viaFile, tt.want, out)
			}
		}
	}
	// A keyword/value DSN is not a URL this server takes: the error names it, redacted.
	c, _ := config.FromEnv(func(k string) string {
		return map[string]string{"TAXII_DATABASE_URL": "host=db password=s3cr3t"}[k]
	})
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "password=REDACTED") {
		t.Fatalf("Validate = %v, want an error naming the redacted DSN", err)
	}
}
