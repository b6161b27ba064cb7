package lazyre

import "testing"

func TestNewCompilesOnceOnFirstUse(t *testing.T) {
	re := New(`a(b+)`)
	first := re()
	if m := first.FindStringSubmatch("xabbb"); len(m) != 2 || m[1] != "bbb" {
		t.Fatalf("match: %q", m)
	}
	if re() != first {
		t.Fatal("compiled again")
	}
}

func TestNewPanicsOnBadExpression(t *testing.T) {
	re := New(`(`)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an invalid expression")
		}
	}()
	re()
}
