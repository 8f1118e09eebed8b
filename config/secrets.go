package config

import (
	"regexp"
	"strings"
)

// Hidden is what a sensitive value reads as in responses, logs and
// errors. Sent back in a write, it stands for the stored value.
const Hidden = "[hidden]"

// URL credentials: the password of a user:password@ authority, and the
// value of password-like parameters in a query string or a JDBC
// property list (?password=, &password=, ;password=).
var (
	urlUserinfo = regexp.MustCompile(`(://[^/\s:@?#"'<>]*:)([^\s/?#"'<>]*)@`)
	urlParam    = regexp.MustCompile(`(?i)([?&;](?:password|passwd|pwd|sslpassword|secret|token|access_token)=)([^&;\s"'<>]*)`)
)

// RedactText hides credentials inside URLs anywhere in s: the password of
// scheme://user:password@host and the values of password, passwd, pwd,
// sslpassword, secret, token and access_token parameters. It is applied
// to every value and message the worker shows, so that a password in a
// connection.url never appears in a response, a status trace or a log.
func RedactText(s string) string {
	if !strings.Contains(s, "@") && !strings.Contains(s, "=") {
		return s
	}
	s = urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		if sub[2] == "" || sub[2] == Hidden {
			return m
		}
		return sub[1] + Hidden + "@"
	})
	return urlParam.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlParam.FindStringSubmatch(m)
		if sub[2] == "" {
			return m
		}
		return sub[1] + Hidden
	})
}

// HasURLCredentials reports whether s holds a credential RedactText hides.
func HasURLCredentials(s string) bool { return RedactText(s) != s }

// Shown returns how the value of k is shown to users: [hidden] for a
// sensitive key, and URL credentials hidden for the others.
func Shown(k *Key, v string) string {
	if k != nil && k.IsSensitive() {
		return Hidden
	}
	return RedactText(v)
}

// Identity returns the parts of cfg that say which server and account a
// connection goes to: the values of d's keys marked ConnectionIdentity,
// with URL credentials hidden (so a URL sent back redacted compares equal
// to the stored one). A stored secret may be reused only while the
// identity is unchanged.
func (d *Def) Identity(cfg map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range d.keys {
		if !k.ConnectionIdentity {
			continue
		}
		if v, ok := lookup(cfg, k); ok {
			out[k.Name] = RedactText(strings.TrimSpace(v))
		}
	}
	return out
}
