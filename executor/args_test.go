package executor

import (
	"strings"
	"testing"
)

func TestArguments(t *testing.T) {
	declared := ParseParams(`
p.add_argument("target", help="where")
p.add_argument("extra", nargs="?")
p.add_argument('--count', type=int, default=3, choices=[1, 2, 3], help="how many (default=9)")
p.add_argument('--mode', choices=("fast", 'slow, careful'), required=True)
p.add_argument('--verbose', action='store_true')
`)
	if declared[2].Default != "3" || declared[2].Help != "how many (default=9)" {
		t.Fatalf("a keyword inside a string was read: %+v", declared[2])
	}
	if got := strings.Join(declared[3].Choices, "|"); got != "fast|slow, careful" {
		t.Fatalf("choices %q", got)
	}
	args, ps := Arguments("s", declared, []Given{{"mode", "fast"}, {"count", "2"}, {"verbose", "true"}, {"target", "home"}, {"device", "d1"}}, []string{"--x"})
	if len(ps) != 0 || strings.Join(args, " ") != "home --mode fast --count 2 --verbose --device d1 --x" {
		t.Fatalf("%q %v", args, ps)
	}
	for _, c := range []struct {
		given []Given
		rest  []string
		want  string
	}{
		{[]Given{{"mode", "fast"}, {"target", "x"}, {"bogus", "1"}}, nil, `s does not declare "bogus"`},
		{[]Given{{"mode", "fast"}, {"target", "x"}, {"count", "abc"}}, nil, `s declares "count" as a whole number, got "abc"`},
		{[]Given{{"mode", "fast"}, {"target", "x"}, {"count", "7"}}, nil, `s takes count from 1, 2, 3, got "7"`},
		{[]Given{{"mode", "quick"}, {"target", "x"}}, nil, `s takes mode from fast, slow, careful, got "quick"`},
		{[]Given{{"target", "x"}}, nil, "s needs mode (required)"},
		{[]Given{{"mode", "fast"}}, nil, "s needs target (required)"},
		{[]Given{{"mode", "fast"}, {"extra", "x"}}, nil, "s takes target before extra"},
		{[]Given{{"mode", "fast"}, {"target", "x"}, {"verbose", "maybe"}}, nil, `"verbose" is a flag`},
	} {
		_, ps := Arguments("s", declared, c.given, c.rest)
		var msgs []string
		for _, p := range ps {
			msgs = append(msgs, p.Msg)
		}
		if !strings.Contains(strings.Join(msgs, "; "), c.want) {
			t.Errorf("%v: problems %q, want %q", c.given, msgs, c.want)
		}
	}
	// Required parameters given after -- count as given.
	if _, ps := Arguments("s", declared, nil, []string{"here", "--mode=slow"}); len(ps) != 0 {
		t.Fatalf("%v", ps)
	}
	// A script that declares nothing takes anything.
	if args, ps := Arguments("s", nil, []Given{{"any", "thing"}}, nil); len(ps) != 0 || strings.Join(args, " ") != "--any thing" {
		t.Fatalf("%v %v", args, ps)
	}
	// Choices that are not literals refuse nothing.
	if ps := ParseParams(`p.add_argument('--n', choices=range(3))`); len(ps) != 1 || ps[0].Choices != nil {
		t.Fatalf("%+v", ps)
	}
}
