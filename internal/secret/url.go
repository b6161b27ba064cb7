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
	"key", "access_key", "access_key_id", "secret_key", "secret_access_key", "x-amz-security-token",
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
// values of its SecretParams replaced by Redacted: url.URL.Redacted, plus
// the query. A string that is not a URL with a scheme, or has nothing to
// hide, is returned as it is. One that url.Parse refuses (a password with
// a bare '/' or '#', a space) is redacted by its parts, so that its
// secrets do not show in the error that reports it.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactParts(s)
	}
	if u.Scheme == "" {
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

// parts cuts a URL by hand: what precedes the user information, the user
// information, the rest up to the query, the query, the fragment (with
// its '#').
type parts struct {
	head, userinfo, rest, query, fragment string
	hasUser, hasQuery                     bool
}

// cut cuts s as url.Parse does, the user information ending at the last
// '@' of the authority. For a URL that url.Parse refuses, it takes the
// user information up to the last '@' of all: a password with a bare '/',
// '?' or '#' is found too.
func cut(s string) (parts, bool) {
	scheme, main, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return parts{}, false
	}
	p := parts{head: scheme + "://"}
	_, err := url.Parse(s)
	refused := err != nil
	if at := strings.LastIndex(main, "@"); refused && at >= 0 {
		p.userinfo, p.hasUser, main = main[:at], true, main[at:]
	}
	if i := strings.IndexByte(main, '#'); i >= 0 {
		main, p.fragment = main[:i], main[i:]
	}
	if i := strings.IndexByte(main, '?'); i >= 0 {
		main, p.query, p.hasQuery = main[:i], main[i+1:], true
	}
	if !refused {
		authority := main
		if i := strings.IndexByte(main, '/'); i >= 0 {
			authority = main[:i]
		}
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			p.userinfo, p.hasUser, main = main[:at], true, main[at:]
		}
	}
	p.rest = main
	return p, true
}

func redactParts(s string) string {
	p, ok := cut(s)
	if !ok {
		return s
	}
	out := p.head
	if p.hasUser {
		user, _, hasPassword := strings.Cut(p.userinfo, ":")
		if hasPassword {
			out += user + ":" + Redacted
		} else {
			out += p.userinfo
		}
	}
	out += p.rest
	if p.hasQuery {
		q, _ := redactQuery(p.query)
		out += "?" + q
	}
	return out + p.fragment
}

// redactQuery hides the secret parameters of a raw query, keeping the rest
// byte for byte.
func redactQuery(raw string) (string, bool) {
	if raw == "" {
		return raw, false
	}
	params := strings.Split(raw, "&")
	changed := false
	for i, param := range params {
		k, _, _ := strings.Cut(param, "=")
		if isSecretParam(unescape(k)) {
			params[i] = k + "=" + Redacted
			changed = true
		}
	}
	return strings.Join(params, "&"), changed
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// URLSecrets returns the secrets of a URL: its password and the values of
// its SecretParams, each decoded and, where it differs, as written in the
// URL (a script may print either). Nil for a string that is not a URL.
func URLSecrets(s string) []string {
	p, ok := cut(s)
	if !ok {
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
	if _, pw, ok := strings.Cut(p.userinfo, ":"); ok {
		decoded := pw
		if d, err := url.PathUnescape(pw); err == nil {
			decoded = d
		}
		add(decoded, pw)
	}
	if p.hasQuery {
		for _, param := range strings.Split(p.query, "&") {
			k, v, _ := strings.Cut(param, "=")
			if isSecretParam(unescape(k)) {
				add(unescape(v), v)
			}
		}
	}
	return out
}

// validScheme: a letter, then letters, digits, '+', '-', '.' (RFC 3986).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
