package secret

import (
	"bytes"
	"encoding/json"
)

// JSON returns a JSON document with every secret masked in its strings,
// keys and values alike, however the document escapes them. A document
// without secrets, or that is not JSON, is returned as it is; numbers keep
// their text.
func (m *Masker) JSON(doc []byte) []byte {
	if m.Len() == 0 {
		return doc
	}
	if bytes.IndexByte(doc, '\\') < 0 && !m.contains(doc) {
		return doc
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return doc
	}
	v, changed := m.value(v)
	if !changed {
		return doc
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return doc
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// contains tells whether b holds a secret anywhere, word or not.
func (m *Masker) contains(b []byte) bool {
	for _, s := range m.secrets {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

func (m *Masker) value(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		s := m.String(x)
		return s, s != x
	case []any:
		changed := false
		for i, e := range x {
			var c bool
			x[i], c = m.value(e)
			changed = changed || c
		}
		return x, changed
	case map[string]any:
		changed := false
		out := make(map[string]any, len(x))
		for k, e := range x {
			e, c := m.value(e)
			mk := m.String(k)
			out[mk] = e
			changed = changed || c || mk != k
		}
		return out, changed
	}
	return v, false
}
