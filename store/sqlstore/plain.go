package sqlstore

import (
	"strings"
	"unicode/utf8"
)

// plainStrings decodes a JSON array of strings that json.Marshal wrote
// and that needs no unescaping: ["--node","live"], as a run's parameters
// nearly always are. It reports false for anything else (an escape, a
// control character, invalid UTF-8, spaces or any other shape), which
// encoding/json then decodes. Decoding the parameters that way was a third
// of the JSON decoding of a campaign's results.
func plainStrings(s string) ([]string, bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	if body == "" {
		return []string{}, true
	}
	if strings.IndexByte(body, '\\') >= 0 || !utf8.ValidString(body) {
		return nil, false
	}
	out := make([]string, 0, strings.Count(body, ",")+1)
	for {
		if len(body) < 2 || body[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(body[1:], '"') + 1
		if end == 0 {
			return nil, false
		}
		v := body[1:end]
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 {
				return nil, false
			}
		}
		out = append(out, v)
		body = body[end+1:]
		if body == "" {
			return out, true
		}
		if body[0] != ',' {
			return nil, false
		}
		body = body[1:]
	}
}
