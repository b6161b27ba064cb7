// Package secret keeps vpt's own secrets (upload keys, the store's
// password) out of what a run records and shows.
//
// The contract:
//
//   - A Masker is built from secret values. Only values of MinLength (8)
//     or more bytes are masked: shorter ones occur by chance in ordinary
//     text and masking them would corrupt it.
//   - A match counts only where it is not glued to a longer word: when the
//     first byte of the secret is a word byte ([A-Za-z0-9_]), the byte
//     before the match must not be one; likewise for the last byte and the
//     byte after. So words that merely contain a secret are left alone.
//   - Matches are found left to right; at one position the longest secret
//     wins, and matches do not overlap.
//   - A match is replaced by as many '*' as it has bytes. The length stays,
//     so a file can be masked in place at the offsets a Stream reports
//     (output.log is written by the script itself) and offsets into the
//     output stay valid. The length of a secret is not itself a secret.
//   - A Stream masks output that arrives in chunks, secrets straddling
//     chunks included, with the same result as masking the whole output at
//     once; it holds back at most the longest secret's length in bytes.
//   - RedactURL hides the password and secret query parameters of a URL.
//   - FilterEnv drops named variables from an environment.
//
// The package has no dependency beyond the standard library.
package secret

import (
	"bytes"
	"sort"
)

// MinLength is the shortest secret that is masked.
const MinLength = 8

// Mask is the byte that replaces each byte of a secret.
const Mask = '*'

// Masker finds and masks a fixed set of secrets. The zero value and nil
// mask nothing. A Masker is safe for concurrent use.
type Masker struct {
	secrets [][]byte // longest first
	longest int
}

// NewMasker returns a masker of the values of MinLength bytes or more;
// shorter and repeated values are ignored.
func NewMasker(values ...string) *Masker {
	seen := map[string]bool{}
	m := &Masker{}
	for _, v := range values {
		if len(v) < MinLength || seen[v] {
			continue
		}
		seen[v] = true
		m.secrets = append(m.secrets, []byte(v))
		m.longest = max(m.longest, len(v))
	}
	sort.Slice(m.secrets, func(i, j int) bool {
		a, b := m.secrets[i], m.secrets[j]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return bytes.Compare(a, b) < 0
	})
	return m
}

// Len is the number of secrets the masker masks.
func (m *Masker) Len() int {
	if m == nil {
		return 0
	}
	return len(m.secrets)
}

// Bytes returns b with every secret masked: b itself when there is none,
// else a masked copy.
func (m *Masker) Bytes(b []byte) []byte {
	if m.Len() == 0 {
		return b
	}
	var out []byte
	f := m.finder(b, -1, true)
	for i := 0; ; {
		start, n, _ := f.next(i)
		if n == 0 {
			break
		}
		if out == nil {
			out = append([]byte(nil), b...)
		}
		fill(out[start : start+n])
		i = start + n
	}
	if out == nil {
		return b
	}
	return out
}

// String returns s with every secret masked.
func (m *Masker) String(s string) string {
	if m.Len() == 0 {
		return s
	}
	return string(m.Bytes([]byte(s)))
}

// Strings returns a copy of ss with every secret masked (nil for nil).
func (m *Masker) Strings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = m.String(s)
	}
	return out
}

func fill(b []byte) {
	for i := range b {
		b[i] = Mask
	}
}

func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// startsClear tells whether secret s may start at data[j]: not glued to a
// word byte before it. prev is the byte before data[0] (-1: none).
func startsClear(data []byte, j, prev int, s []byte) bool {
	if !isWord(s[0]) {
		return true
	}
	c := prev
	if j > 0 {
		c = int(data[j-1])
	}
	return c < 0 || !isWord(byte(c))
}

// A finder finds the matches in one piece of output, left to right.
type finder struct {
	m     *Masker
	data  []byte
	prev  int  // the byte before data[0]; -1 at the start of the output
	final bool // nothing follows data
	// Per secret, where its next occurrence that is not glued to a word
	// starts (-1: none); from is where that search began (-1: not yet).
	// Positions only grow, so each secret's occurrences are searched for
	// once per piece, not once per match.
	at, from []int
	waits    []bool // the occurrence at at[k] ends data and needs the next byte
}

func (m *Masker) finder(data []byte, prev int, final bool) *finder {
	f := &finder{m: m, data: data, prev: prev, final: final,
		at: make([]int, len(m.secrets)), from: make([]int, len(m.secrets)), waits: make([]bool, len(m.secrets))}
	for k := range f.from {
		f.from[k] = -1
	}
	return f
}

// occurrence returns where secret k next occurs at or after i, not glued
// to a word, and whether that occurrence ends data with its outcome
// depending on the next byte.
func (f *finder) occurrence(k, i int) (int, bool) {
	if f.from[k] >= 0 && f.from[k] <= i && (f.at[k] < 0 || f.at[k] >= i) {
		return f.at[k], f.waits[k]
	}
	s, data := f.m.secrets[k], f.data
	f.from[k], f.at[k], f.waits[k] = i, -1, false
	for from := i; len(data)-from >= len(s); {
		j := bytes.Index(data[from:], s)
		if j < 0 {
			break
		}
		j += from
		from = j + 1
		if !startsClear(data, j, f.prev, s) {
			continue
		}
		end := j + len(s)
		if isWord(s[len(s)-1]) {
			if end == len(data) && !f.final {
				f.at[k], f.waits[k] = j, true
				break
			}
			if end < len(data) && isWord(data[end]) {
				continue
			}
		}
		f.at[k] = j
		break
	}
	return f.at[k], f.waits[k]
}

// next finds, from i on, the leftmost match, the longest secret at its
// position.
//
// It returns the match (n == 0: none), unless the outcome at a position
// before it depends on bytes that have not arrived yet (a secret's
// beginning at the end of data, or a whole secret there whose end needs
// the next byte to tell a word from a match): then n is 0 and wait is that
// position. wait is -1 otherwise, and always when final.
func (f *finder) next(i int) (start, n, wait int) {
	start, wait = -1, -1
	for k, s := range f.m.secrets {
		j, waits := f.occurrence(k, i)
		switch {
		case j < 0:
		case waits:
			if wait < 0 || j < wait {
				wait = j
			}
		case start < 0 || j < start:
			// Secrets come longest first: at one position the first wins.
			start, n = j, len(s)
		}
	}
	if !f.final {
		// A secret's beginning at the very end of data.
		data := f.data
	tail:
		for p := max(i, len(data)-f.m.longest+1); p < len(data); p++ {
			// A match found at start waits for a longer secret that may
			// begin at the same position (the longest wins there); after
			// start, the leftmost match wins anyway.
			if (start >= 0 && p > start) || (wait >= 0 && p >= wait) {
				break
			}
			rest := data[p:]
			for _, s := range f.m.secrets {
				if len(s) > len(rest) && bytes.HasPrefix(s, rest) && startsClear(data, p, f.prev, s) {
					wait = p
					break tail
				}
			}
		}
	}
	if wait >= 0 && (start < 0 || wait <= start) {
		return -1, 0, wait
	}
	if start < 0 {
		return -1, 0, -1
	}
	return start, n, -1
}
