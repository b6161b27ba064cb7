package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// positive are the count flags for which 0 means nothing sensible when
// given: --parallel 0 would run on no device.
var positive = map[string]bool{"parallel": true, "window": true}

// checkCounts refuses a negative number or duration given to any flag
// (--retries -1, --grace -2s, --max-failures -5): no count or time of
// vpt's is negative, and a negative one was taken silently before.
func checkCounts(flags *pflag.FlagSet) error {
	var bad error
	flags.Visit(func(f *pflag.Flag) {
		if bad != nil {
			return
		}
		switch f.Value.Type() {
		case "int", "int64", "float64", "duration":
		default:
			return
		}
		v := f.Value.String()
		switch {
		case strings.HasPrefix(v, "-") && positive[f.Name]:
			bad = &usageError{msg: "--" + f.Name + " " + v + ": cannot be negative", hint: "give 1 or more"}
		case strings.HasPrefix(v, "-"):
			bad = &usageError{msg: "--" + f.Name + " " + v + ": cannot be negative", hint: "give 0 or more"}
		case positive[f.Name] && (v == "0" || v == "0s"):
			bad = &usageError{msg: "--" + f.Name + " 0: use 1 or more (leave it out for the default)"}
		}
	})
	return bad
}

// onceValue is a string flag that may be given once: a second --device
// on a command that uses one device is a mistake, not an override.
type onceValue struct {
	p   *string
	set bool
}

func (v *onceValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v *onceValue) Set(s string) error {
	if v.set && s != *v.p {
		return fmt.Errorf("given twice (%s, then %s): give it once", *v.p, s)
	}
	*v.p, v.set = s, true
	return nil
}

func (v *onceValue) Type() string { return "string" }

// stringOnce defines a string flag that refuses to be given twice.
func stringOnce(f *pflag.FlagSet, p *string, name, short, value, usage string) {
	*p = value
	f.VarP(&onceValue{p: p}, name, short, usage)
}
