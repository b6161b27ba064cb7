package executor

import (
	"os"
	"strings"

	"github.com/vpt-dev/vpt/internal/secret"
)

// environment is the script's: the caller's without vpt's own secrets,
// plus vpt's variables.
func (run *runState) environment(control string) []string {
	s, req, dev := run.r.Settings, run.req, run.p.dev
	env := secret.FilterEnv(s.BaseEnv, s.SecretEnv, s.EnvPassthrough)
	set := func(k, v string) { env = setEnv(env, k, v) }
	set("TEAM_ID", s.TeamID)
	if s.ProjectRoot != "" {
		set("PROJECT_ROOT", s.ProjectRoot)
	}
	set("PYTHONUNBUFFERED", "1")
	set("VPT_RUN_ID", run.res.ID)
	set("VPT_DEVICE", dev.ID)
	set("VPT_DEVICE_NAME", dev.Name)
	set("VPT_DEVICE_MODEL", dev.Model)
	set("VPT_USERINTERFACE", run.res.UserInterface)
	set("VPT_RESULTS_DIR", run.dir)
	set("VPT_SCRIPT", req.Script.Name)
	set("VPT_HOST", s.HostName)
	set("VPT_CONTROL", control)
	if exe, err := os.Executable(); err == nil {
		set("VPT_BIN", exe)
	}
	if req.Script.AIScriptName != "" {
		set("AI_SCRIPT_NAME", req.Script.AIScriptName)
	}
	if lib, err := PythonLibDir(); err == nil {
		pp := lib
		if old := getEnv(env, "PYTHONPATH"); old != "" {
			pp = lib + string(os.PathListSeparator) + old
		}
		set("PYTHONPATH", pp)
	} else {
		run.log.Warn("python library", "err", err)
	}
	env = run.p.python.Environ(env) // what a pyenv shim would have set
	for _, kv := range req.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	return env
}

func setEnv(env []string, k, v string) []string {
	prefix := k + "="
	for i, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			env[i] = prefix + v
			return env
		}
	}
	return append(env, prefix+v)
}

func getEnv(env []string, k string) string {
	prefix := k + "="
	for _, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			return kv[len(prefix):]
		}
	}
	return ""
}

// terminal returns the writer for a run's live output, or nil.
func (r *Runner) terminal(prefix string, req Request) *prefixWriter {
	if r.Terminal == nil || req.Quiet {
		return nil
	}
	p := newPrefixWriter(r.Terminal, prefix)
	p.whole = req.WholeLines
	return p
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
