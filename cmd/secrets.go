package cmd

import (
	"fmt"
	"strings"

	"github.com/vpt-dev/vpt/internal/secret"
)

// secretVars are the variables that hold vpt's own secrets whatever their
// value: the upload keys, under vpt's names and upstream's.
var secretVars = []string{
	"VPT_UPLOAD_ACCESS_KEY_ID", "VPT_UPLOAD_SECRET_ACCESS_KEY",
	"CLOUDFLARE_R2_ACCESS_KEY_ID", "CLOUDFLARE_R2_SECRET_ACCESS_KEY",
}

// secretSet is vpt's own secrets in a configuration.
type secretSet struct {
	// Values to mask wherever a run shows or records them.
	Values []string
	// Vars are the variables of the environment that hold them; scripts
	// do not get them unless env_passthrough names them.
	Vars []string
}

// secrets finds vpt's own secrets: the upload keys (upload: section,
// VPT_UPLOAD_*, CLOUDFLARE_R2_*), the store URL's password (user
// information and query parameters such as ?password=), and PGPASSWORD
// when the store is PostgreSQL (the driver reads it).
func (c *Config) secrets(environ []string) secretSet {
	env := envMap(environ)
	var s secretSet
	s.Values = append(s.Values, c.Upload.AccessKeyID, c.Upload.SecretAccessKey)
	s.Values = append(s.Values, secret.URLSecrets(c.Store)...)
	vars := append([]string(nil), secretVars...)
	if store := env["VPT_STORE"]; len(secret.URLSecrets(store)) > 0 {
		vars = append(vars, "VPT_STORE")
		s.Values = append(s.Values, secret.URLSecrets(store)...)
	}
	if isPostgres(c.Store) {
		vars = append(vars, "PGPASSWORD")
	}
	for _, name := range vars {
		v, ok := env[name]
		if !ok {
			continue
		}
		s.Vars = append(s.Vars, name)
		if name != "VPT_STORE" {
			s.Values = append(s.Values, v)
		}
	}
	return s
}

func isPostgres(storeURL string) bool {
	return strings.HasPrefix(storeURL, "postgres://") || strings.HasPrefix(storeURL, "postgresql://")
}

// checkPassthrough reports names in env_passthrough that cannot be
// variable names.
func checkPassthrough(names []string) []string {
	var problems []string
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "= \t\n") {
			problems = append(problems, fmt.Sprintf("%q is not a variable name", n))
		}
	}
	return problems
}
