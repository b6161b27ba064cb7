package executor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// Given is a parameter given for a script by name: `-p key=value` or a
// campaign entry's `parameters:`.
type Given struct {
	Name  string // without dashes
	Value string
}

// ParamProblem is a parameter that cannot be passed to the script, found
// before it starts. Name is the given parameter's name, or the declared
// one's for a required parameter that was not given.
type ParamProblem struct {
	Name, Msg, Hint string
	// Missing: a required parameter was not given.
	Missing bool
}

func (p ParamProblem) Error() string { return p.Msg }

// FrameworkParams are the arguments every script built on the library's
// ScriptExecutor takes besides its own declarations.
var FrameworkParams = map[string]bool{"userinterface": true, "userinterface_name": true, "host": true, "device": true}

// Arguments checks parameters given by name against those the script
// declares and renders them as its command line. When the script
// declares parameters, a name it does not declare, a value of the wrong
// type, a value outside its choices and a required parameter not given
// are problems; a script that declares none takes anything. Positional
// parameters become bare values, in their declared order, before the
// options; options become --name value (--name=value for a value that
// starts with a dash), and store_true flags a bare
// --name (or nothing, for false). rest is what goes after them as it is
// (the arguments after --): a required parameter given there counts as
// given.
func Arguments(script string, declared []Param, given []Given, rest []string) ([]string, []ParamProblem) {
	byName := map[string]Param{}
	var names []string
	for _, p := range declared {
		byName[p.Name] = p
		byName[strings.TrimLeft(p.Flag, "-")] = p
		names = append(names, p.Name)
	}
	var problems []ParamProblem
	positional := map[string]string{}
	var options []string
	seen := map[string]bool{}
	for _, g := range given {
		key := strings.TrimLeft(g.Name, "-")
		d, ok := byName[key]
		seen[d.Name] = true
		if !ok && len(declared) > 0 && !FrameworkParams[key] {
			hint := "it declares: " + strings.Join(names, ", ")
			if near := yamlfile.Closest(key, names, 1); len(near) > 0 {
				hint = "did you mean " + near[0] + "?"
			}
			problems = append(problems, ParamProblem{Name: g.Name, Msg: fmt.Sprintf("%s does not declare %q", script, key), Hint: hint})
			continue
		}
		if !ok {
			options = append(options, option("--"+key, g.Value)...)
			continue
		}
		if msg := checkGiven(script, d, g.Value); msg != "" {
			problems = append(problems, ParamProblem{Name: g.Name, Msg: msg, Hint: choicesHint(d)})
			continue
		}
		switch {
		case d.Positional && strings.HasPrefix(g.Value, "-") && !isNumber(g.Value):
			problems = append(problems, ParamProblem{Name: g.Name,
				Msg:  fmt.Sprintf("%s takes %s as a bare value, and %q starts with a dash: argparse would read it as an option", script, d.Name, g.Value),
				Hint: fmt.Sprintf("pass it yourself, after a second --: vpt run %s -- -- %s", script, g.Value)})
		case d.Positional:
			positional[d.Name] = g.Value
		case d.Type == "flag":
			if on, _ := parseBool(g.Value); on {
				options = append(options, d.Flag)
			}
		default:
			options = append(options, option(d.Flag, g.Value)...)
		}
	}
	var args []string
	gap := ""
	for _, d := range declared {
		if !d.Positional {
			continue
		}
		v, ok := positional[d.Name]
		switch {
		case ok && gap != "":
			problems = append(problems, ParamProblem{Name: d.Name, Msg: fmt.Sprintf("%s takes %s before %s (positional parameters fill in order)", script, gap, d.Name),
				Hint: "give " + gap + " too"})
		case ok:
			args = append(args, v)
		case gap == "":
			gap = d.Name
		}
	}
	for _, d := range declared {
		if d.Required && !seen[d.Name] && !inRest(d, rest) {
			problems = append(problems, ParamProblem{Name: d.Name, Missing: true,
				Msg: fmt.Sprintf("%s needs %s (required)", script, d.Name), Hint: fmt.Sprintf("give it: -p %s=VALUE", d.Name)})
		}
	}
	return append(append(args, options...), rest...), problems
}

// option renders an option and its value: --name value, or --name=value
// when the value starts with a dash (argparse would read "--name -x" as
// --name without a value, then an option -x).
func option(flag, v string) []string {
	if strings.HasPrefix(v, "-") {
		return []string{flag + "=" + v}
	}
	return []string{flag, v}
}

func isNumber(v string) bool {
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

// checkGiven says what is wrong with a value for a declared parameter
// ("" when nothing is).
func checkGiven(script string, d Param, v string) string {
	if d.Type == "flag" {
		if _, ok := parseBool(v); !ok {
			return fmt.Sprintf("%q is a flag: give true or false, not %q", d.Name, v)
		}
		return ""
	}
	if !CheckValue(d.Type, v) {
		return fmt.Sprintf("%s declares %q as %s, got %q", script, d.Name, TypeName(d.Type), v)
	}
	if len(d.Choices) > 0 && !hasChoice(d, v) {
		return fmt.Sprintf("%s takes %s from %s, got %q", script, d.Name, strings.Join(d.Choices, ", "), v)
	}
	return ""
}

func choicesHint(d Param) string {
	if len(d.Choices) == 0 {
		return ""
	}
	return "one of: " + strings.Join(d.Choices, ", ")
}

// hasChoice compares as the script's type does: 3 and 3.0 are one float.
func hasChoice(d Param, v string) bool {
	for _, c := range d.Choices {
		if c == v {
			return true
		}
		if d.Type == "int" || d.Type == "float" {
			a, err1 := strconv.ParseFloat(c, 64)
			b, err2 := strconv.ParseFloat(v, 64)
			if err1 == nil && err2 == nil && a == b {
				return true
			}
		}
	}
	return false
}

// inRest tells whether raw arguments give a parameter: --name or
// --name=value for an option, any bare value for a positional one.
func inRest(d Param, rest []string) bool {
	bare := false // after a "--", everything is a bare value
	for _, a := range rest {
		if d.Positional && (bare || !strings.HasPrefix(a, "-")) {
			return true
		}
		bare = bare || a == "--"
		if !d.Positional && (a == d.Flag || strings.HasPrefix(a, d.Flag+"=")) {
			return true
		}
	}
	return false
}

func parseBool(v string) (on, ok bool) {
	switch strings.ToLower(v) {
	case "yes", "true", "t", "y", "1", "on":
		return true, true
	case "no", "false", "f", "n", "0", "off":
		return false, true
	}
	return false, false
}

// TypeName is a parameter type in words.
func TypeName(t string) string {
	switch t {
	case "int":
		return "a whole number"
	case "float":
		return "a number"
	case "bool":
		return "true or false"
	}
	return "text"
}
