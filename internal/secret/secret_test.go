package secret

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	const key = "Sup3rS3cretKey"
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"alone", []string{key}, key, "**************"},
		{"in a line", []string{key}, "key=" + key + "\n", "key=**************\n"},
		{"quoted", []string{key}, `"` + key + `"`, `"**************"`},
		{"twice", []string{key}, key + " " + key, "************** **************"},
		{"glued before", []string{key}, "x" + key, "x" + key},
		{"glued after", []string{key}, key + "9", key + "9"},
		{"underscore is a word byte", []string{key}, "_" + key, "_" + key},
		{"glued to itself", []string{key}, key + key, key + key},
		{"short is not masked", []string{"abc1234"}, "abc1234 x", "abc1234 x"},
		{"eight is masked", []string{"abc12345"}, "abc12345 x", "******** x"},
		{"non-word edges mask inside words", []string{"/s3cret/"}, "a/s3cret/b", "a********b"},
		{"non-word first byte", []string{"-token99"}, "x-token99 x", "x******** x"},
		{"non-word last byte glued after", []string{"token99-"}, "xtoken99-y", "xtoken99-y"},
		{"non-word last byte", []string{"token99-"}, " token99-y", " ********y"},
		{"longest wins", []string{"abcdefgh", "abcdefghij"}, "abcdefghij", "**********"},
		{"shorter when longer is glued", []string{"abcdefgh", "abcdefgh-x"}, "abcdefgh-xy", "********-xy"},
		{"empty", []string{key}, "", ""},
		{"no secrets", nil, key, key},
		{"utf-8 around", []string{key}, "é" + key + "é", "é**************é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMasker(tt.secrets...)
			if got := m.String(tt.in); got != tt.want {
				t.Fatalf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := string(streamAll(m, []byte(tt.in), 1, nil)); got != tt.want {
				t.Fatalf("streamed byte by byte: %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNilMasker(t *testing.T) {
	var m *Masker
	if m.Len() != 0 || m.String("abcdefghij") != "abcdefghij" || m.Strings(nil) != nil {
		t.Fatal("a nil masker masks")
	}
	if got := string(m.JSON([]byte(`{"a":1}`))); got != `{"a":1}` {
		t.Fatal(got)
	}
}

func TestNewMaskerIgnoresShortAndRepeated(t *testing.T) {
	m := NewMasker("", "short", "longenough", "longenough")
	if m.Len() != 1 {
		t.Fatalf("%d secrets, want 1", m.Len())
	}
}

// streamAll streams in in chunks of size n (a size of 0 flushes instead)
// and records the matches it reports.
func streamAll(m *Masker, in []byte, n int, found *[][2]int64) []byte {
	s := m.Stream(func(off int64, l int) {
		if found != nil {
			*found = append(*found, [2]int64{off, int64(l)})
		}
	})
	var out []byte
	for len(in) > 0 {
		k := min(n, len(in))
		out = append(out, s.Write(in[:k])...)
		if s.Held() > m.longest {
			panic("held more than the longest secret")
		}
		in = in[k:]
	}
	return append(out, s.Close()...)
}

func TestStreamOffsets(t *testing.T) {
	m := NewMasker("0123456789abcdef")
	in := []byte(strings.Repeat("x", 5000) + " 0123456789abcdef\n" + strings.Repeat("y ", 3000) + "0123456789abcdef")
	for _, n := range []int{1, 3, 7, 16, 17, 4096, len(in)} {
		var found [][2]int64
		out := streamAll(m, in, n, &found)
		if !bytes.Equal(out, m.Bytes(in)) {
			t.Fatalf("chunks of %d: streamed differs from whole", n)
		}
		want := [][2]int64{{5001, 16}, {int64(len(in) - 16), 16}}
		if !slices.Equal(found, want) {
			t.Fatalf("chunks of %d: found %v, want %v", n, found, want)
		}
	}
}

// A prompt without a newline is held only while it may begin a secret,
// and Flush shows it.
func TestStreamFlush(t *testing.T) {
	m := NewMasker("hunter22hunter22")
	s := m.Stream(nil)
	if got := string(s.Write([]byte("Password: "))); got != "Password: " {
		t.Fatalf("a prompt that cannot begin a secret is held: %q", got)
	}
	if got := string(s.Write([]byte("hunt"))); got != "" {
		t.Fatalf("a beginning of the secret is shown: %q", got)
	}
	if got := string(s.Flush()); got != "hunt" {
		t.Fatalf("Flush: %q", got)
	}
	var found [][2]int64
	s = m.Stream(func(off int64, n int) { found = append(found, [2]int64{off, int64(n)}) })
	s.Write([]byte("> hunt"))
	s.Flush()
	if got := string(s.Write([]byte("er22hunter22 ok\n"))); got != "************ ok\n" {
		t.Fatalf("the rest of a secret after a pause: %q", got)
	}
	if !slices.Equal(found, [][2]int64{{2, 16}}) {
		t.Fatalf("found %v", found)
	}
	// A whole secret at a pause is masked, though a word might go on.
	s = m.Stream(nil)
	if got := string(s.Write([]byte("x hunter22hunter22"))); got != "x " {
		t.Fatalf("%q", got)
	}
	if got := string(s.Flush()); got != "****************" {
		t.Fatalf("Flush of a whole secret: %q", got)
	}
}

func TestJSON(t *testing.T) {
	m := NewMasker("s3cr3t-value")
	tests := []struct{ in, want string }{
		{`{"name":"step s3cr3t-value","n":12345678901234567890}`, `{"n":12345678901234567890,"name":"step ************"}`},
		{`{"s3cr3t\u002dvalue":["a","s3cr3t-value"]}`, `{"************":["a","************"]}`},
		{`{"msg":"<a> & b"}`, `{"msg":"<a> & b"}`},
		{`{"msg":"nothing here"}`, `{"msg":"nothing here"}`},
		{`not json s3cr3t-value`, `not json s3cr3t-value`},
	}
	for _, tt := range tests {
		if got := string(m.JSON([]byte(tt.in))); got != tt.want {
			t.Errorf("JSON(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://vpt:pw@db:5432/vpt?sslmode=disable", "postgres://vpt:xxxxx@db:5432/vpt?sslmode=disable"},
		{"postgres://vpt@db/vpt?password=hunter2&sslmode=disable", "postgres://vpt@db/vpt?password=xxxxx&sslmode=disable"},
		{"postgres://vpt@db/vpt?PassWord=hunter2", "postgres://vpt@db/vpt?PassWord=xxxxx"},
		{"postgres://u:p@db/vpt?sslpassword=k&sslkey=/etc/k.pem&passfile=/home/u/.pgpass", "postgres://u:xxxxx@db/vpt?sslpassword=xxxxx&sslkey=/etc/k.pem&passfile=/home/u/.pgpass"},
		{"https://h/x?token=abc&secret_access_key=def&b=1", "https://h/x?token=xxxxx&secret_access_key=xxxxx&b=1"},
		{"postgres://vpt@db/vpt", "postgres://vpt@db/vpt"},
		{"sqlite://vpt-results/my file.db", "sqlite://vpt-results/my file.db"},
		{"host=db password=x", "host=db password=x"},
		{"", ""},
		{"not a url: %zz", "not a url: %zz"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestURLSecrets(t *testing.T) {
	got := URLSecrets("postgres://vpt:p%40ss%2Fword@db/vpt?password=a%20b&sslmode=disable&Token=t")
	want := []string{"p@ss/word", "p%40ss%2Fword", "a b", "a%20b", "t"}
	if !slices.Equal(got, want) {
		t.Fatalf("URLSecrets = %q, want %q", got, want)
	}
	if URLSecrets("sqlite://x.db") != nil || URLSecrets("plain") != nil {
		t.Fatal("secrets in a URL without any")
	}
}

func TestFilterEnv(t *testing.T) {
	env := []string{"PATH=/bin", "R2_SECRET=x", "KEEP=y", "R2_SECRET_OTHER=z", "EMPTY="}
	got := FilterEnv(env, []string{"R2_SECRET", "KEEP", "EMPTY"}, []string{"KEEP"})
	want := []string{"PATH=/bin", "KEEP=y", "R2_SECRET_OTHER=z"}
	if !slices.Equal(got, want) {
		t.Fatalf("FilterEnv = %q, want %q", got, want)
	}
	if got := FilterEnv(env, nil, nil); !slices.Equal(got, env) {
		t.Fatal("FilterEnv without names changed the environment")
	}
}

// URLs that url.Parse refuses still lose their secrets in messages.
func TestRedactURLUnparsed(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pa/ss@h/db?password=x", "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"postgres://u:p ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:p#ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://h:notaport/db?token=t&a=%zz", "postgres://h:notaport/db?token=xxxxx&a=%zz"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := URLSecrets("postgres://u:pa/ss@h/db"); !slices.Equal(got, []string{"pa/ss"}) {
		t.Errorf("URLSecrets = %q", got)
	}
}
