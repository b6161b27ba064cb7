package summary

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// entryConfig is what the summary reads of an entry of the campaign file
// (the campaign row keeps the file's entries as JSON).
type entryConfig struct {
	ScriptName string
	Name       string
	Parameters map[string]string
}

// label is the entry's test name: its name, else the script with its
// parameters in key order, as pytest names parametrised tests.
func (e entryConfig) label() string {
	if e.Name != "" {
		return e.Name
	}
	if len(e.Parameters) == 0 {
		return e.ScriptName
	}
	parts := make([]string, 0, len(e.Parameters))
	for _, k := range slices.Sorted(maps.Keys(e.Parameters)) {
		parts = append(parts, k+"="+e.Parameters[k])
	}
	return e.ScriptName + "[" + strings.Join(parts, ",") + "]"
}

// entryConfigs decodes the campaign row's script configurations: the
// file's entries as the campaign runner stored them, or as they come back
// from the store. Values become text as the script receives them.
func entryConfigs(v any) []entryConfig {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var raw []struct {
		ScriptName string         `json:"script_name"`
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters"`
	}
	if json.Unmarshal(b, &raw) != nil {
		return nil
	}
	out := make([]entryConfig, len(raw))
	for i, r := range raw {
		// nap.py and nap name the same script (vpt run NAME finds NAME.py).
		out[i] = entryConfig{ScriptName: strings.TrimSuffix(r.ScriptName, ".py"), Name: r.Name}
		for k, v := range r.Parameters {
			if out[i].Parameters == nil {
				out[i].Parameters = map[string]string{}
			}
			out[i].Parameters[k] = paramText(v)
		}
	}
	return out
}

// paramText renders a parameter value as the script receives it.
func paramText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Labels are the test names of a campaign file's entries (its script
// configurations, as the campaign row keeps them or as campaign.File
// holds them), in file order: each entry's name:, else its script and
// parameters.
func Labels(scriptConfigurations any) []string {
	configs := entryConfigs(scriptConfigurations)
	out := make([]string, len(configs))
	for i, c := range configs {
		out[i] = c.label()
	}
	return out
}
