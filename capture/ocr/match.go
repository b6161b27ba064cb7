package ocr

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is the text a test expects on screen.
type Pattern struct {
	// Text to find: the whole text read, or with Regex a regular
	// expression (RE2 syntax) found anywhere in it.
	Text  string `json:"text"`
	Regex bool   `json:"regex,omitempty"`
	// CaseSensitive: by default case is ignored, as OCR often confuses it.
	CaseSensitive bool `json:"case_sensitive,omitempty"`
}

// Normalize collapses runs of white space (OCR's line breaks included)
// into one space and trims the ends.
func Normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// Match tells whether the text read matches: exactly, once both are
// normalised, or by the regular expression, searched in the normalised
// text. A bad regular expression is an error.
func (p Pattern) Match(read string) (bool, error) {
	got := Normalize(read)
	if !p.Regex {
		want := Normalize(p.Text)
		if p.CaseSensitive {
			return got == want, nil
		}
		return strings.EqualFold(got, want), nil
	}
	expr := p.Text
	if !p.CaseSensitive {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return false, fmt.Errorf("text pattern %q is not a regular expression: %v", p.Text, err)
	}
	return re.MatchString(got), nil
}
