package secret

import (
	"bytes"
	"net/url"
	"testing"
)

// FuzzStream: masking in chunks of any sizes is masking the whole; the
// reported matches are the whole's; with pauses (Flush) at any points no
// secret is shown whole where the whole output masks one.
func FuzzStream(f *testing.F) {
	f.Add("Sup3rS3cretKey", "abcdefgh", []byte("key=Sup3rS3cretKey xSup3rS3cretKey abcdefghabcdefgh abcdefgh\n"), []byte{3, 0, 5, 1})
	f.Add("aaaaaaaa", "aaaaaaaaaa", []byte("aaaaaaaaaaaaaaaaaaaaaaa aaaaaaaaa aaaaaaaa"), []byte{1, 2, 0x81})
	f.Add("-token99", "token99-", []byte("x-token99-y -token99 token99- "), []byte{2, 0x82, 7})
	f.Fuzz(func(t *testing.T, a, b string, in, cuts []byte) {
		m := NewMasker(a, b)
		if bytes.Contains([]byte(a), []byte{Mask}) || bytes.Contains([]byte(b), []byte{Mask}) {
			t.Skip("a secret of mask bytes cannot be told from its mask")
		}
		whole := m.Bytes(in)
		if len(whole) != len(in) {
			t.Fatal("masking changed the length")
		}
		var wholeFound [][2]int64
		streamed := streamAll(m, in, len(in)+1, &wholeFound)
		if !bytes.Equal(streamed, whole) {
			t.Fatalf("one chunk: %q, want %q", streamed, whole)
		}
		patched := append([]byte(nil), in...)
		for _, f := range wholeFound {
			fill(patched[f[0] : f[0]+f[1]])
		}
		if !bytes.Equal(patched, whole) {
			t.Fatalf("the reported matches do not make the masked output")
		}
		for _, withFlush := range []bool{false, true} {
			var found [][2]int64
			s := m.Stream(func(off int64, n int) { found = append(found, [2]int64{off, int64(n)}) })
			var out []byte
			rest := in
			for i := 0; len(rest) > 0; i++ {
				k, flush := 1, false
				if len(cuts) > 0 {
					c := cuts[i%len(cuts)]
					k, flush = int(c&0x7f)+1, c&0x80 != 0 && withFlush
				}
				k = min(k, len(rest))
				out = append(out, s.Write(rest[:k])...)
				if s.Held() > max(m.longest, 0) {
					t.Fatalf("holds %d bytes, longest secret %d", s.Held(), m.longest)
				}
				if flush {
					out = append(out, s.Flush()...)
				}
				rest = rest[k:]
			}
			out = append(out, s.Close()...)
			if len(out) != len(in) {
				t.Fatalf("streamed %d bytes of %d", len(out), len(in))
			}
			if len(found) != len(wholeFound) {
				t.Fatalf("found %v, the whole output has %v", found, wholeFound)
			}
			for i := range found {
				if found[i] != wholeFound[i] {
					t.Fatalf("found %v, the whole output has %v", found, wholeFound)
				}
			}
			if !withFlush && !bytes.Equal(out, whole) {
				t.Fatalf("in chunks %v: %q, want %q", cuts, out, whole)
			}
			for _, f := range found {
				if bytes.Equal(out[f[0]:f[0]+f[1]], in[f[0]:f[0]+f[1]]) {
					t.Fatalf("secret shown at %d: %q", f[0], out)
				}
			}
		}
	})
}

// FuzzRedactURL: what RedactURL returns has no password and no secret
// parameter but Redacted.
func FuzzRedactURL(f *testing.F) {
	f.Add("postgres://u:pw@h/db?password=x&sslmode=disable")
	f.Add("postgres://u@h/db?a=1&SSLPassword=x%20y&password")
	f.Add("sqlite://vpt-results/vpt.db")
	f.Fuzz(func(t *testing.T, s string) {
		r := RedactURL(s)
		// Redacting again changes nothing but what url.URL.String
		// normalises (the scheme's case, escapes).
		if r2 := RedactURL(r); RedactURL(r2) != r2 {
			t.Fatalf("RedactURL(%q) = %q, again %q, again %q", s, r, r2, RedactURL(r2))
		}
		u, err := url.Parse(r)
		if err != nil {
			return
		}
		if pw, ok := u.User.Password(); ok && u.Scheme != "" && pw != Redacted {
			t.Fatalf("RedactURL(%q) = %q keeps the password %q", s, r, pw)
		}
		for _, sec := range URLSecrets(r) {
			if sec != Redacted {
				t.Fatalf("RedactURL(%q) = %q keeps %q", s, r, sec)
			}
		}
	})
}
