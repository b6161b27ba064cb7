package executor

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docs/script-api.md lists every method of the protocol with exactly the
// parameters its params type decodes: a parameter added, renamed or
// removed in the code fails here until the table says so too.
func TestScriptAPIDocumentsEveryParam(t *testing.T) {
	doc, err := os.ReadFile("../docs/script-api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := methodTable(t, string(doc))
	for name, m := range apiMethods {
		params, ok := documented[name]
		if !ok {
			t.Errorf("method %s is not in the methods table of docs/script-api.md", name)
			continue
		}
		if m.params == nil {
			if params != nil {
				t.Errorf("%s takes any keys; the table lists %v", name, params)
			}
			continue
		}
		if want := jsonFields(m.params); !slices.Equal(sorted(params), sorted(want)) {
			t.Errorf("%s: the table lists params %v, its type decodes %v", name, params, want)
		}
	}
	for name := range documented {
		if _, ok := apiMethods[name]; !ok {
			t.Errorf("docs/script-api.md lists %s, which vpt does not serve", name)
		}
	}
}

var (
	backticked    = regexp.MustCompile("`([^`]+)`")
	parenthesised = regexp.MustCompile(`\([^)]*\)`)
)

// methodTable reads the "### Methods" table: method → its parameters
// (the names in backticks, not those inside parentheses, which explain
// values; "as `m`" for the parameters of method m); nil for "any keys".
func methodTable(t *testing.T, doc string) map[string][]string {
	_, rest, ok := strings.Cut(doc, "### Methods")
	if !ok {
		t.Fatal("no ### Methods section")
	}
	out := map[string][]string{}
	same := map[string]string{}
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "###") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if as, ok := strings.CutPrefix(strings.TrimSpace(cells[2]), "as `"); ok {
			same[name] = strings.TrimSuffix(as, "`")
			continue
		}
		params := []string{}
		if strings.Contains(cells[2], "any keys") {
			params = nil
		}
		for _, m := range backticked.FindAllStringSubmatch(parenthesised.ReplaceAllString(cells[2], ""), -1) {
			params = append(params, m[1])
		}
		out[name] = params
	}
	for name, as := range same {
		out[name] = out[as]
	}
	if len(out) == 0 {
		t.Fatal("empty methods table")
	}
	return out
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// jsonFields are the names a struct decodes from JSON, in field order.
func jsonFields(typ reflect.Type) []string {
	out := []string{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}
