package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// Errors of script resolution. All of them are usage errors: the run never
// starts.
var (
	ErrScriptNotFound = errors.New("script not found")
	ErrScriptOutside  = errors.New("script outside the scripts folder")
	ErrScriptIsDir    = errors.New("script is a directory")
	ErrNoInterpreter  = errors.New("no interpreter for script")
	// ErrInterpreterMissing: the interpreter to run the script does not
	// exist (python3 not installed, a bad `python:` setting).
	ErrInterpreterMissing = errors.New("interpreter not found")
)

// AIExecutorDefault is the script that runs AI test cases, as upstream.
const AIExecutorDefault = "ai_testcase_executor.py"

const aiPrefix = "ai_testcase_"

// Script is a resolved script.
type Script struct {
	// Name is how results name the script: its path inside the scripts
	// folder without ".py" ("goto", "gw/smartping"), or the AI test case
	// name for a redirected AI test case.
	Name string
	// Path is the absolute path of the file that runs.
	Path string
	// AIScriptName is set for a redirected AI test case: the child's
	// AI_SCRIPT_NAME.
	AIScriptName string
}

// Resolver finds scripts.
type Resolver struct {
	// Dir is the scripts folder (absolute or relative to the working
	// directory).
	Dir string
	// AIExecutor is the script that runs ai_testcase_* names (default
	// ai_testcase_executor.py), looked up in Dir.
	AIExecutor string
}

// Resolve finds a script of the scripts folder by name, as campaign files
// name them. Errors wrap ErrScriptNotFound, ErrScriptOutside or
// ErrScriptIsDir and carry a hint (see Hint).
func (r Resolver) Resolve(name string) (Script, error) { return r.find(name, false) }

// ResolvePath finds a script as the command line names it: a script of the
// scripts folder, or else an existing file given by path (absolute, or
// relative to the working directory).
func (r Resolver) ResolvePath(name string) (Script, error) { return r.find(name, true) }

func (r Resolver) find(name string, paths bool) (Script, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Script{}, &ResolveError{Err: ErrScriptNotFound, Msg: "no script given", Hint: "name a script: vpt run SCRIPT (list them with: vpt scripts)"}
	}
	base := strings.TrimSuffix(filepath.Base(name), ".py")
	if strings.HasPrefix(base, aiPrefix) && base != strings.TrimSuffix(r.aiExecutor(), ".py") {
		s, err := r.resolve(r.aiExecutor(), paths)
		if err != nil {
			var re *ResolveError
			if errors.As(err, &re) {
				re.Hint = fmt.Sprintf("AI test case %q runs %s, which is not in the scripts folder %s; add it, or set ai_executor in vpt.yaml",
					base, r.aiExecutor(), r.absDir())
			}
			return Script{}, err
		}
		s.AIScriptName = base
		s.Name = base
		return s, nil
	}
	return r.resolve(name, paths)
}

func (r Resolver) aiExecutor() string {
	if r.AIExecutor != "" {
		return r.AIExecutor
	}
	return AIExecutorDefault
}

func (r Resolver) absDir() string {
	d, err := filepath.Abs(r.Dir)
	if err != nil {
		return r.Dir
	}
	return d
}

func (r Resolver) resolve(name string, paths bool) (Script, error) {
	dir := r.absDir()
	var candidate string
	if filepath.IsAbs(name) {
		candidate = filepath.Clean(name)
	} else {
		// A name never climbs out of the folder: "../x" is refused even if
		// such a file exists. On the command line it is a path from the
		// working directory, as any other path.
		for _, part := range strings.Split(filepath.ToSlash(name), "/") {
			if part == ".." && paths {
				return r.fromWorkingDir(dir, name)
			}
			if part == ".." {
				return Script{}, outside(name, dir)
			}
		}
		candidate = filepath.Join(dir, name)
	}
	inDir := within(dir, candidate)
	tries := []string{candidate}
	if filepath.Ext(candidate) == "" {
		tries = []string{candidate + ".py", candidate}
	}
	if !inDir && !filepath.IsAbs(name) {
		return Script{}, outside(name, dir)
	}
	if inDir || paths {
		if s, err, ok := r.try(dir, tries); ok {
			return s, err
		}
	}
	// Fallback: a path relative to the working directory.
	if paths && !filepath.IsAbs(name) {
		if s, err := r.fromWorkingDir(dir, name); !errors.Is(err, ErrScriptNotFound) {
			return s, err
		}
	}
	if filepath.IsAbs(name) && !inDir && !paths {
		return Script{}, outside(name, dir)
	}
	missing := tries[0]
	return Script{}, &ResolveError{Err: ErrScriptNotFound,
		Msg:  "Script not found: " + missing,
		Hint: r.suggest(name)}
}

// outside refuses a script name of a campaign (or of an agent's job) that
// leaves the scripts folder, by ".." or as an absolute path.
func outside(name, dir string) error {
	return &ResolveError{Err: ErrScriptOutside,
		Msg:  fmt.Sprintf("Script %q resolves outside the scripts folder %s", name, dir),
		Hint: "a campaign's scripts are in the scripts folder: name them from there, move or link the script into it, or set scripts_dir"}
}

// fromWorkingDir finds name as a path relative to the working directory.
func (r Resolver) fromWorkingDir(dir, name string) (Script, error) {
	p, _ := filepath.Abs(name)
	tries := []string{p}
	if filepath.Ext(p) == "" {
		tries = []string{p + ".py", p}
	}
	if s, err, ok := r.try(dir, tries); ok {
		return s, err
	}
	return Script{}, &ResolveError{Err: ErrScriptNotFound, Msg: "Script not found: " + tries[0], Hint: r.suggest(filepath.Base(name))}
}

// try returns the first existing candidate; ok=false when none exists.
func (r Resolver) try(dir string, tries []string) (Script, error, bool) {
	for _, p := range tries {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			return Script{}, &ResolveError{Err: ErrScriptIsDir, Msg: fmt.Sprintf("Script %s is a directory", p), Hint: r.suggestIn(p)}, true
		}
		return Script{Name: scriptName(dir, p), Path: p}, nil, true
	}
	return Script{}, nil, false
}

// scriptName is the name results use: relative to the scripts folder when
// inside it, else the file name; without ".py".
func scriptName(dir, path string) string {
	name := filepath.Base(path)
	if within(dir, path) {
		if rel, err := filepath.Rel(dir, path); err == nil {
			name = filepath.ToSlash(rel)
		}
	}
	return strings.TrimSuffix(name, ".py")
}

func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

func (r Resolver) suggest(name string) string {
	scripts, _ := List(r.Dir)
	var names []string
	for _, s := range scripts {
		names = append(names, s.Name)
	}
	want := strings.TrimSuffix(filepath.ToSlash(name), ".py")
	close := yamlfile.Closest(want, names, 3)
	switch {
	case len(close) > 0:
		return "did you mean: " + strings.Join(close, ", ") + "? (list scripts with: vpt scripts)"
	case len(names) == 0:
		return fmt.Sprintf("the scripts folder %s has no scripts; set scripts_dir in vpt.yaml or give a path to the script", r.absDir())
	default:
		return "list scripts with: vpt scripts"
	}
}

func (r Resolver) suggestIn(dir string) string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if !e.IsDir() && isScriptFile(e.Name()) {
			names = append(names, strings.TrimSuffix(e.Name(), ".py"))
		}
	}
	if len(names) == 0 {
		return "give the path of a script file"
	}
	rel := scriptName(r.absDir(), dir)
	for i := range names {
		names[i] = rel + "/" + names[i]
	}
	return "scripts in that folder: " + strings.Join(names, ", ")
}

// ResolveError is a resolution failure with a hint for the user.
type ResolveError struct {
	Err  error
	Msg  string
	Hint string
}

func (e *ResolveError) Error() string {
	return e.Msg
}

// Unwrap returns the sentinel.
func (e *ResolveError) Unwrap() error { return e.Err }

// HintText is a suggestion for the user.
func (e *ResolveError) HintText() string { return e.Hint }

// ScriptInfo is one entry of List.
type ScriptInfo struct {
	Name   string  `json:"name"`
	Path   string  `json:"path"`
	Params []Param `json:"parameters"`
}

// List returns the scripts in dir and its subfolders, sorted by name:
// Python files and executables, without the AI test case executor, caches
// and dot entries. A missing folder lists nothing.
func List(dir string) ([]ScriptInfo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var out []ScriptInfo
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == abs {
				return fs.SkipAll
			}
			return nil
		}
		name := d.Name()
		if p != abs && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") && d.IsDir() || name == "venv") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isScriptFile(name) && !isExecutable(d) {
			return nil
		}
		if name == AIExecutorDefault || strings.HasPrefix(name, "__init__") {
			return nil
		}
		out = append(out, ScriptInfo{Name: scriptName(abs, p), Path: p})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

func isScriptFile(name string) bool {
	return strings.HasSuffix(name, ".py") || strings.HasSuffix(name, ".sh")
}

func isExecutable(d fs.DirEntry) bool {
	info, err := d.Info()
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}
