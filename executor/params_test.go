package executor

import (
	"fmt"
	"testing"
)

func TestParseParams(t *testing.T) {
	src := `
import argparse
main._script_args = ['--userinterface:str:horizon_android_mobile', '--node:str:home',
    "--max-iteration:int:0", '--bad-entry', '--flag:bool:true', '--url:str:http://x:8080']

def parse():
    p = argparse.ArgumentParser()
    p.add_argument('--count', '-c', type=int, default=3, help='how many (max 5)')
    p.add_argument("target", help="where")
    p.add_argument('--verbose', action='store_true')
    p.add_argument('--node', default='ignored: declared above')
    p.add_argument('--opt', default=None)
`
	got := ParseParams(src)
	want := []string{
		"userinterface str horizon_android_mobile true false",
		"node str home true false",
		"max-iteration int 0 true false",
		"flag bool true true false",
		"url str http://x:8080 true false",
		"count int 3 true false",
		"target str  false true",
		"verbose flag false true false",
		"opt str  false false",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d params: %+v", len(got), got)
	}
	for i, p := range got {
		s := fmt.Sprintf("%s %s %s %v %v", p.Name, p.Type, p.Default, p.HasDefault, p.Required)
		if s != want[i] {
			t.Errorf("param %d: got %q, want %q", i, s, want[i])
		}
	}
	if got[5].Help != "how many (max 5)" || got[5].Flag != "--count" {
		t.Errorf("count: %+v", got[5])
	}
}

func TestCheckValue(t *testing.T) {
	for _, c := range []struct {
		typ, v string
		ok     bool
	}{{"int", "3", true}, {"int", "3.5", false}, {"float", "3.5", true}, {"bool", "yes", true},
		{"bool", "maybe", false}, {"str", "anything", true},
		// As Python's int() and float() read them.
		{"int", "99999999999999999999", true}, {"int", "-1_000", true}, {"int", " 7 ", true}, {"int", "1__0", false},
		{"int", "_1", false}, {"int", "1_", false}, {"int", "-", false}, {"int", "", false}, {"int", "+-1", false},
		{"float", "1e400", true}, {"float", "1e", false}} {
		if CheckValue(c.typ, c.v) != c.ok {
			t.Errorf("%s %q: want %v", c.typ, c.v, c.ok)
		}
	}
}
