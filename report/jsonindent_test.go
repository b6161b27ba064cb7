package report

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzIndentJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `[{}]`, `{"a":[]}`, `{"a\"\\":"b\\","c":[1,-2.5e3,true,null,{"d":{}}]}`,
		`"\\\""`, `[[[]],[{"":""}]]`, `0`, `{"x":"<&>\u2028"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, in); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indentJSON(nil, compact.Bytes()); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("indentJSON(%q)\n got %q\nwant %q", compact.Bytes(), got, want.Bytes())
		}
	})
}

// The summary of a campaign is what indentJSON writes in vpt: it must be
// what MarshalIndent wrote.
func TestIndentJSONIsMarshalIndent(t *testing.T) {
	sum := bigCampaign(20)
	sum.Entries[3].Script = `a "quoted" \ <script> name`
	sum.Entries[4].Attempts = nil
	sum.Entries[5].Parameters = map[string]string{"k": "v\n", "": ""}
	want, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(sum)
	if got := indentJSON(nil, compact); !bytes.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
