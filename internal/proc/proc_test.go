package proc

import (
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	// A command name with spaces and parentheses, as a script may choose.
	line := "4242 (a ) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50 18446744073709551615\n"
	s, err := Parse(4242, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s != (Stat{PID: 4242, PPID: 17, State: 'S', Start: 987654}) {
		t.Fatalf("%+v", s)
	}
	if s.Zombie() {
		t.Fatal("S is not a zombie")
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) S 17", "4242 (x) SS 17 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 1 1"} {
		if _, err := Parse(4242, []byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.PID != os.Getpid() || s.PPID != os.Getppid() || s.Start <= 0 || s.Zombie() {
		t.Fatalf("%+v", s)
	}
}
