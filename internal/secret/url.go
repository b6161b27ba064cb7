package secret

import (
	"net/url"
	"strings"
)

// Redacted replaces a password or secret parameter in RedactURL's output,
// as url.URL.Redacted does.
const Redacted = "xxxxx"

// SecretParams are the query parameters whose values RedactURL hides,
// compared without regard to case: passwords of database drivers
// (libpq and pgx take password and sslpassword in the URL) and the usual
// names of tokens and keys. Parameters that name a file holding a secret
// (passfile, sslkey) are kept: the path is not the secret.
var SecretParams = []string{
	"password", "passwd", "pwd", "pass", "sslpassword",
	"secret", "client_secret", "token", "access_token", "auth_token", "api_key", "apikey",
	"key", "access_key", "access_key_id", "secret_key", "secret_access_key",
	"x-amz-security-token",
}

func isSecretParam(name string) bool {
	for _, p := range SecretParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// RedactURL returns s with the password of its user information and the
// values of its SecretParams replaced by Redacted. A string that is not a
// URL with a scheme, or has nothing to hide, is returned as it is.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	query, changed := redactQuery(u.RawQuery)
	_, hasPassword := u.User.Password()
	if !changed && !hasPassword {
		return s
	}
	u.RawQuery = query
	return u.Redacted()
}

// redactQuery hides the secret parameters of a raw query, keeping the rest
// byte for byte.
func redactQuery(raw string) (string, bool) {
	if raw == "" {
		return raw, false
	}
	parts := strings.Split(raw, "&")
	changed := false
	for i, part := range parts {
		k, _, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if isSecretParam(name) {
			parts[i] = k + "=" + Redacted
			changed = true
		}
	}
	return strings.Join(parts, "&"), changed
}

// URLSecrets returns the secrets of a URL: its password and the values of
// its SecretParams, each decoded and, where it differs, as written in the
// URL (a script may print either). Nil for a string that is not a URL.
func URLSecrets(s string) []string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return nil
	}
	var out []string
	add := func(decoded, written string) {
		if decoded != "" {
			out = append(out, decoded)
		}
		if written != decoded && written != "" {
			out = append(out, written)
		}
	}
	if pw, ok := u.User.Password(); ok {
		add(pw, writtenPassword(s, u.Scheme))
	}
	for _, part := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil || !isSecretParam(name) {
			continue
		}
		decoded, err := url.QueryUnescape(v)
		if err != nil {
			decoded = v
		}
		add(decoded, v)
	}
	return out
}

// writtenPassword is the password as it stands in the URL, escapes and all.
func writtenPassword(s, scheme string) string {
	rest := strings.TrimPrefix(s[len(scheme):], "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw
}
