package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestPlainStrings(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, []string{}, true},
		{`["--node","live"]`, []string{"--node", "live"}, true},
		{`[""]`, []string{""}, true},
		{`["a,b","c"]`, []string{"a,b", "c"}, true},
		{`["été"]`, []string{"été"}, true},
		{`["a\"b"]`, nil, false},
		{`["a", "b"]`, nil, false},
		{`["a",]`, nil, false},
		{`["a"`, nil, false},
		{`[1]`, nil, false},
		{`null`, nil, false},
		{"[\"\xff\"]", nil, false},
		{"[\"\x01\"]", nil, false},
	} {
		got, ok := plainStrings(c.in)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("plainStrings(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// What plainStrings decodes, encoding/json decodes the same; what
// json.Marshal writes of any strings, it decodes or leaves to encoding/json.
func FuzzPlainStrings(f *testing.F) {
	for _, s := range []string{`[]`, `["--node","live"]`, `["a\"b"]`, `["a", "b"]`, `[""]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, ok := plainStrings(s); ok {
			var want []string
			if err := json.Unmarshal([]byte(s), &want); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("plainStrings(%q) = %q; encoding/json: %q, %v", s, got, want, err)
			}
		}
		b, _ := json.Marshal([]string{s, "x"})
		if got, ok := plainStrings(string(b)); ok && !reflect.DeepEqual(got, []string{s, "x"}) {
			t.Fatalf("plainStrings(%s) = %q", b, got)
		}
	})
}
