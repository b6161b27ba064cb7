package campaign

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// Environment is what planning checks a campaign against.
type Environment struct {
	Resolver executor.Resolver
	Devices  *capture.Registry
	UIs      ui.Library
	// DefaultTimeout of a script when its entry sets none.
	DefaultTimeout time.Duration
	// Lab, when set, makes the campaign distributed: its devices are the
	// lab's (entries name them by selector), not Devices.
	Lab Lab
}

// Options come from the command line and win over the file.
type Options struct {
	Devices     []string // --device d1,d2: the pool
	Parallel    int      // --parallel N: run on N devices at once (0: the file decides)
	Retries     int      // --retries N (-1: the file decides)
	MaxFailures int      // --max-failures N, -x (0: the file decides)
	FailOnFlaky bool
	Shard       int // 1-based; 0: no sharding
	Shards      int
	// Balance "history" splits the shards by Durations (each script's
	// median duration, ms): largest first onto the emptiest shard, so
	// that the shards finish together. "" deals entries round robin.
	Balance   string
	Durations map[string]int64
	// Only keeps the entries with these indexes (--last-failed); nil: all.
	Only map[int]bool
	// RerunOf is the execution --last-failed reruns, recorded with the
	// new one: the entries Only leaves out keep their verdicts from it.
	RerunOf string
}

// PlannedEntry is one script configuration ready to run.
type PlannedEntry struct {
	Index         int // position in the file, from 0
	Entry         Entry
	Script        executor.Script
	Args          []string
	UserInterface string
	Device        string // pinned device, "" for any of the pool
	Timeout       time.Duration
	Retries       int
	// CheckVideo and CheckAudio: the entry's check_video / check_audio,
	// the check of its recording after the script.
	CheckVideo, CheckAudio bool
}

// Plan is a validated campaign: what runs, where, how.
type Plan struct {
	File     *File
	Entries  []PlannedEntry
	Total    int // entries in the file
	Pool     []string
	Workers  int
	Settings Settings
	Options  Options
	// Assignment is the shard of each entry (by index) of a balanced
	// plan; nil for round robin. The first shard records it with the
	// campaign and the others follow it (see Runner.create).
	Assignment map[int]int
	all        []PlannedEntry
	// Placed: a distributed campaign; entries' devices are selectors.
	Placed bool
	// Notes are what the plan made of the options that it could not follow
	// to the letter (--parallel 4 on a pool of one device), for the user.
	Notes []string
}

// Prepare validates everything before anything runs: scripts exist,
// devices exist and suit their entries, userinterfaces exist, parameters
// are those the scripts declare, with the declared types. All problems come
// back at once (yamlfile.Problems, wrapped with ErrInvalid).
func Prepare(f *File, env Environment, o Options) (*Plan, error) {
	var ps yamlfile.Problems
	at := func(field, msg, hint string, path ...any) {
		ps = append(ps, yamlfile.At(f.Path, f.Root, field, msg, hint, path...))
	}
	settings := settingsOf(f, o)
	checkFile(f, env, settings, at)
	if env.Lab != nil {
		return prepareLab(f, env, o, settings, ps)
	}
	pool, known := choosePool(f, env, o, at, &ps)
	plan := &Plan{File: f, Total: len(f.ScriptConfigurations), Settings: settings, Options: o}
	for i, e := range f.ScriptConfigurations {
		pe, ok := planEntry(f, env, settings, o, i, e, at)
		if !ok {
			continue
		}
		if e.Device != "" {
			checkEntryDevice(env, known, pool, i, e.Device, pe.UserInterface, at)
		}
		plan.Entries = append(plan.Entries, pe)
	}
	return finishPlan(plan, pool, o, ps)
}

// problemAt records a problem at a field of the campaign file.
type problemAt func(field, msg, hint string, path ...any)

// settingsOf is the file's settings under the command line's options.
func settingsOf(f *File, o Options) Settings {
	s := f.Settings()
	if o.Retries >= 0 {
		s.Retries = o.Retries
	}
	if o.MaxFailures > 0 {
		s.MaxFailures = o.MaxFailures
	}
	if o.Parallel > 0 {
		s.Parallel = true
	}
	return s
}

// maxTimeoutMinutes is the longest limit a time.Duration holds.
const maxTimeoutMinutes = float64(math.MaxInt64 / int64(time.Minute))

// yamlNumber writes a number as a campaign file would.
func yamlNumber(f float64) string {
	if math.IsInf(f, 1) {
		return ".inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// checkFile checks the campaign's own fields.
func checkFile(f *File, env Environment, s Settings, at problemAt) {
	if f.CampaignID == "" {
		at("campaign_id", "missing", "every campaign needs a campaign_id (a short name used across executions)")
	}
	if f.Name == "" {
		at("name", "missing", "every campaign needs a name")
	}
	if m := f.ExecutionConfig.TimeoutMinutes; m != nil && *m > maxTimeoutMinutes {
		at("execution_config.timeout_minutes", fmt.Sprintf("%s minutes is longer than vpt can wait", yamlNumber(*m)),
			fmt.Sprintf("give at most %d, about 292 years, or leave it out for the default %d", int64(maxTimeoutMinutes), int(DefaultTimeout.Minutes())),
			"execution_config", "timeout_minutes")
	} else if !(s.Timeout > 0) {
		at("execution_config.timeout_minutes", "must be more than 0", "", "execution_config", "timeout_minutes")
	}
	if s.Retries < 0 {
		at("execution_config.retries", "cannot be negative", "", "execution_config", "retries")
	}
	if s.MaxFailures < 0 {
		at("execution_config.max_failures", "cannot be negative", "", "execution_config", "max_failures")
	}
	if len(f.ScriptConfigurations) == 0 {
		at("script_configurations", "no scripts to run", "list at least one {script_name: …}", "script_configurations")
	}
	checkNames(f, at)
	if f.UserInterfaceName != "" {
		if _, err := env.UIs.Find(f.UserInterfaceName); err != nil {
			at("userinterface_name", firstLine(err.Error()), "", "userinterface_name")
		}
	}
}

// choosePool picks the device pool: --device, else the file's device,
// else every device that suits the campaign's userinterface. known is every
// configured device by id.
func choosePool(f *File, env Environment, o Options, at problemAt, ps *yamlfile.Problems) (pool []string, known map[string]capture.DeviceConfig) {
	known = map[string]capture.DeviceConfig{}
	for _, d := range env.Devices.Devices() {
		known[d.ID] = d
	}
	explicit := o.Devices
	fromFile := false
	if len(explicit) == 0 && !f.Device.Auto() {
		explicit, fromFile = f.Device, true
	}
	for _, id := range explicit {
		if slices.Contains(pool, id) {
			// A typo for another device, most likely: the one device would
			// run one script at a time all the same.
			msg := fmt.Sprintf("%s is listed twice (a device runs one script at a time)", id)
			if fromFile {
				at("device", msg, "list each device once", "device")
			} else {
				*ps = append(*ps, yamlfile.Problem{File: "--device", Msg: msg})
			}
			continue
		}
		if _, ok := known[id]; !ok {
			msg := (&capture.UnknownDeviceError{ID: id, Available: env.Devices.IDs()}).Error()
			if fromFile {
				at("device", msg, "", "device")
			} else {
				*ps = append(*ps, yamlfile.Problem{File: "--device", Msg: msg})
			}
			continue
		}
		pool = append(pool, id)
	}
	if len(explicit) == 0 {
		for _, d := range env.Devices.Devices() {
			if suits(d, f.UserInterfaceName) {
				pool = append(pool, d.ID)
			}
		}
	}
	if len(pool) == 0 && len(*ps) == 0 {
		at("device", "no configured device suits this campaign", "configure a device with userinterface: "+f.UserInterfaceName, "device")
	}
	return pool, known
}

// checkEntryDevice checks the device entry i pins: known, in the pool,
// showing the entry's userinterface.
func checkEntryDevice(env Environment, known map[string]capture.DeviceConfig, pool []string, i int, id, uiName string, at problemAt) {
	field := fmt.Sprintf("script_configurations[%d].device", i)
	path := []any{"script_configurations", i, "device"}
	d, ok := known[id]
	switch {
	case !ok:
		at(field, (&capture.UnknownDeviceError{ID: id, Available: env.Devices.IDs()}).Error(), "", path...)
	case !slices.Contains(pool, id):
		at(field, fmt.Sprintf("device %s is not in this campaign's pool (%s)", id, strings.Join(pool, ", ")),
			"add it with --device, or remove the entry's device", path...)
	case !suits(d, uiName):
		at(field, fmt.Sprintf("device %s shows userinterface %s, not %s", id, d.UserInterface, uiName), "", path...)
	}
}

// checkNames refuses two entries of one name: CI systems keep one test
// case of a name (and class), so the other's result would be lost.
func checkNames(f *File, at problemAt) {
	first := map[string]int{}
	for i, e := range f.ScriptConfigurations {
		if e.Name == "" {
			continue
		}
		if j, ok := first[e.Name]; ok {
			at(fmt.Sprintf("script_configurations[%d].name", i), fmt.Sprintf("%q is also the name of entry %d", e.Name, j+1),
				"give each entry its own name: it is the test's name in JUnit", "script_configurations", i, "name")
			continue
		}
		first[e.Name] = i
	}
}

// prepareLab plans a distributed campaign: each entry's device is a
// selector (its own, else the campaign's device, else auto) that some
// device of a live agent must serve; the pool is every such device.
func prepareLab(f *File, env Environment, o Options, settings Settings, ps yamlfile.Problems) (*Plan, error) {
	at := func(field, msg, hint string, path ...any) {
		ps = append(ps, yamlfile.At(f.Path, f.Root, field, msg, hint, path...))
	}
	settings.Parallel = true
	fallback, fromFile := "", true
	switch {
	case len(o.Devices) > 1:
		ps = append(ps, yamlfile.Problem{File: "--device", Msg: "a distributed campaign takes one selector: AGENT/DEVICE, model:NAME, tag:NAME or auto"})
	case len(o.Devices) == 1:
		fallback, fromFile = o.Devices[0], false
	case len(f.Device) > 1:
		at("device", "a distributed campaign takes one selector, not a list", "AGENT/DEVICE, model:NAME, tag:NAME or auto; entries may set their own", "device")
	case len(f.Device) == 1:
		fallback = f.Device[0]
	}
	if o.Shards > 1 {
		ps = append(ps, yamlfile.Problem{File: "--shard", Msg: "a distributed campaign is not sharded: the lab's agents share its entries already"})
	}
	plan := &Plan{File: f, Total: len(f.ScriptConfigurations), Settings: settings, Options: o, Placed: true}
	pool := map[string]bool{}
	for i, e := range f.ScriptConfigurations {
		pe, ok := planEntry(f, env, settings, o, i, e, at)
		if !ok {
			continue
		}
		sel, field, path := e.Device, fmt.Sprintf("script_configurations[%d].device", i), []any{"script_configurations", i, "device"}
		if sel == "" {
			sel, field, path = fallback, "device", []any{"device"}
		}
		canonical, devices, err := env.Lab.Resolve(sel, pe.UserInterface)
		if err != nil {
			if field == "device" && !fromFile {
				ps = append(ps, yamlfile.Problem{File: "--device", Msg: fmt.Sprintf("entry %d (%s): %s", i+1, e.ScriptName, err)})
			} else {
				at(field, err.Error(), "vpt agents lists the lab's agents and devices", path...)
			}
			continue
		}
		pe.Device = canonical
		for _, d := range devices {
			pool[d] = true
		}
		plan.Entries = append(plan.Entries, pe)
	}
	return finishPlan(plan, slices.Sorted(maps.Keys(pool)), o, ps)
}

// planEntry checks one entry (all but its device) and plans it; ok is
// false when it cannot be planned at all.
func planEntry(f *File, env Environment, settings Settings, o Options, i int, e Entry,
	at func(field, msg, hint string, path ...any)) (PlannedEntry, bool) {
	field := fmt.Sprintf("script_configurations[%d]", i)
	path := []any{"script_configurations", i}
	pe := PlannedEntry{Index: i, Entry: e, UserInterface: cmp.Or(e.UserInterfaceName, f.UserInterfaceName),
		Device: e.Device, Timeout: env.DefaultTimeout, Retries: settings.Retries}
	if e.TestcaseID != "" {
		at(field+".testcase_id", "test case entries are not supported by vpt", "run a script: give script_name", append(path, "testcase_id")...)
	}
	if e.ScriptName == "" {
		at(field+".script_name", "missing", "every entry names a script", path...)
		return pe, false
	}
	script, err := env.Resolver.Resolve(e.ScriptName)
	if err != nil {
		hint := ""
		var re *executor.ResolveError
		if errors.As(err, &re) {
			hint = re.Hint
		}
		at(field+".script_name", err.Error(), hint, append(path, "script_name")...)
		return pe, false
	}
	pe.Script = script
	if e.UserInterfaceName != "" {
		if _, err := env.UIs.Find(e.UserInterfaceName); err != nil {
			at(field+".userinterface_name", firstLine(err.Error()), "", append(path, "userinterface_name")...)
		}
	}
	if e.Timeout != "" {
		d, err := time.ParseDuration(e.Timeout)
		if err != nil || d <= 0 {
			at(field+".timeout", fmt.Sprintf("%q is not a duration", e.Timeout), "for example 90s or 10m", append(path, "timeout")...)
		} else {
			pe.Timeout = d
		}
	}
	if e.Retries != nil {
		if *e.Retries < 0 {
			at(field+".retries", "cannot be negative", "", append(path, "retries")...)
		}
		pe.Retries = *e.Retries
		if o.Retries >= 0 {
			pe.Retries = o.Retries
		}
	}
	var problems []executor.ParamProblem
	pe.CheckVideo, pe.CheckAudio, problems = avChecks(e.Parameters)
	args, more := paramArgs(script, e.Parameters)
	problems = append(problems, more...)
	for _, p := range problems {
		if p.Missing {
			at(field+".parameters", p.Msg, p.Hint, append(path, "parameters")...)
			continue
		}
		at(field+".parameters."+p.Name, p.Msg, p.Hint, append(path, "parameters", p.Name)...)
	}
	pe.Args = args
	return pe, true
}

// finishPlan checks the options, keeps this shard's part and sizes the
// workers.
func finishPlan(plan *Plan, pool []string, o Options, ps yamlfile.Problems) (*Plan, error) {
	settings := plan.Settings
	if o.Shards > 0 && (o.Shard < 1 || o.Shard > o.Shards) {
		ps = append(ps, yamlfile.Problem{File: "--shard", Msg: fmt.Sprintf("shard %d/%d: use i/n with 1 ≤ i ≤ n", o.Shard, o.Shards)})
	}
	if len(ps) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, ps)
	}

	// This shard's part: entry i goes to shard i mod n, or as the
	// history balances them.
	var kept []PlannedEntry
	for _, e := range plan.Entries {
		if o.Only == nil || o.Only[e.Index] {
			kept = append(kept, e)
		}
	}
	plan.all = kept
	if o.Shards > 1 && o.Balance == BalanceHistory {
		plan.Assignment = balance(kept, o.Shards, o.Durations)
	}
	plan.Entries = plan.shardEntries(o.Shard)
	plan.Pool = pool
	plan.Workers = 1
	if plan.Placed {
		// Every entry is handed to the lab at once, unless --parallel says
		// how many may be out at a time.
		plan.Workers = max(len(plan.Entries), 1)
		if o.Parallel > 0 {
			plan.Workers = min(plan.Workers, o.Parallel)
		}
		return plan, nil
	}
	if settings.Parallel {
		plan.Workers = len(pool)
		if o.Parallel > len(pool) {
			plan.Notes = append(plan.Notes, fmt.Sprintf("--parallel %d: the pool has %d device(s) (%s): running on %d at once",
				o.Parallel, len(pool), strings.Join(pool, ", "), len(pool)))
		}
		if o.Parallel > 0 && o.Parallel < plan.Workers {
			plan.Workers = o.Parallel
			pins := pinned(pool, plan.Entries)
			if len(pins) > o.Parallel {
				return nil, fmt.Errorf("%w: %w", ErrInvalid, yamlfile.Problems{{File: "--parallel",
					Msg: fmt.Sprintf("%d: the entries pin %s, more devices than that: give --parallel %d or more",
						o.Parallel, strings.Join(pins, ", "), len(pins))}})
			}
			plan.Pool = parallelPool(pool, pins, o.Parallel)
		}
	}
	return plan, nil
}

// parallelPool is the n devices of the pool that --parallel n runs on:
// the pinned ones (at most n), then others, in the pool's order.
func parallelPool(pool, pins []string, n int) []string {
	free := n - len(pins)
	var out []string
	for _, d := range pool {
		switch {
		case slices.Contains(pins, d):
			out = append(out, d)
		case free > 0:
			out = append(out, d)
			free--
		}
	}
	return out
}

// pinned are the devices of the pool that entries pin, in its order.
func pinned(pool []string, entries []PlannedEntry) []string {
	var out []string
	for _, d := range pool {
		if slices.ContainsFunc(entries, func(e PlannedEntry) bool { return e.Device == d }) {
			out = append(out, d)
		}
	}
	return out
}

// suits tells whether a device can run scripts of a userinterface: the
// virtual device shows any; another device shows its own.
func suits(d capture.DeviceConfig, uiName string) bool {
	return uiName == "" || d.Model == "virtual" || d.UserInterface == "" || d.UserInterface == uiName
}

// avParams are the parameters vpt reads itself: the check of the entry's
// recording for black and frozen picture, silence. A script receives them
// only when it declares them, as upstream's scripts may.
var avParams = map[string]bool{"check_video": true, "check_audio": true}

// avChecks reads check_video and check_audio: true or false.
func avChecks(params Params) (video, audio bool, problems []executor.ParamProblem) {
	for _, x := range params {
		key := strings.TrimLeft(x.Key, "-")
		if !avParams[key] {
			continue
		}
		on, ok := x.Value.(bool)
		if s, isString := x.Value.(string); isString && (s == "true" || s == "false") {
			on, ok = s == "true", true
		}
		if !ok {
			problems = append(problems, executor.ParamProblem{Name: x.Key, Msg: fmt.Sprintf("%s is true or false, not %q", key, x.String()),
				Hint: "vpt checks the recording when it is true"})
			continue
		}
		if key == "check_video" {
			video = on
		} else {
			audio = on
		}
	}
	return video, audio, problems
}

// paramArgs checks parameters against what the script declares (when it
// declares any) and renders them as its arguments (executor.Arguments).
func paramArgs(s executor.Script, params Params) ([]string, []executor.ParamProblem) {
	declared := executor.ReadParams(s.Path)
	var given []executor.Given
	for _, x := range params {
		key := strings.TrimLeft(x.Key, "-")
		if avParams[key] && !slices.ContainsFunc(declared, func(p executor.Param) bool { return p.Name == key }) {
			continue // vpt's own, and the script does not take it
		}
		given = append(given, executor.Given{Name: x.Key, Value: x.String()})
	}
	return executor.Arguments(s.Name, declared, given, nil)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
