package executor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func scriptsDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"goto.py", "goto_live.py", "gw/smartping.py", "ai_testcase_executor.py", "tool.sh", "__pycache__/x.py", ".hidden.py"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("print(1)\n"), 0o644)
	}
	return dir
}

func TestResolve(t *testing.T) {
	dir := scriptsDir(t)
	r := Resolver{Dir: dir}
	for _, c := range []struct{ in, name, path string }{
		{"goto", "goto", "goto.py"}, {"goto.py", "goto", "goto.py"}, {"gw/smartping", "gw/smartping", "gw/smartping.py"},
		{"tool.sh", "tool.sh", "tool.sh"},
	} {
		s, err := r.Resolve(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if s.Name != c.name || s.Path != filepath.Join(dir, c.path) {
			t.Errorf("%s: got %+v", c.in, s)
		}
	}
	s, err := r.Resolve("ai_testcase_login")
	if err != nil || s.AIScriptName != "ai_testcase_login" || filepath.Base(s.Path) != "ai_testcase_executor.py" {
		t.Fatalf("AI redirect: %+v %v", s, err)
	}
}

func TestResolveErrors(t *testing.T) {
	dir := scriptsDir(t)
	r := Resolver{Dir: dir}
	_, err := r.Resolve("gotoo")
	var re *ResolveError
	if !errors.As(err, &re) || !errors.Is(err, ErrScriptNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if re.Msg != "Script not found: "+filepath.Join(dir, "gotoo.py") || !strings.Contains(re.Hint, "goto") {
		t.Fatalf("message %q hint %q", re.Msg, re.Hint)
	}
	if _, err := r.Resolve("gw"); !errors.Is(err, ErrScriptIsDir) {
		t.Fatalf("folder: %v", err)
	}
	for _, bad := range []string{"../etc/passwd", "gw/../../x", "/etc/passwd"} {
		if _, err := r.Resolve(bad); !errors.Is(err, ErrScriptOutside) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	noAI := Resolver{Dir: t.TempDir()}
	if _, err := noAI.Resolve("ai_testcase_x"); !errors.Is(err, ErrScriptNotFound) {
		t.Fatalf("missing AI executor: %v", err)
	}
}

func TestResolvePathFallback(t *testing.T) {
	other := t.TempDir()
	p := filepath.Join(other, "elsewhere.py")
	os.WriteFile(p, []byte("print(1)\n"), 0o644)
	r := Resolver{Dir: t.TempDir()}
	s, err := r.ResolvePath(p)
	if err != nil || s.Path != p || s.Name != "elsewhere" {
		t.Fatalf("%+v %v", s, err)
	}
	strict := Resolver{Dir: t.TempDir()}
	if _, err := strict.Resolve(p); !errors.Is(err, ErrScriptOutside) {
		t.Fatalf("campaign resolution must refuse outside paths: %v", err)
	}
}

func TestList(t *testing.T) {
	scripts, err := List(scriptsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scripts {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "goto,goto_live,gw/smartping,tool.sh" {
		t.Fatalf("got %v", names)
	}
	if none, err := List(filepath.Join(t.TempDir(), "missing")); err != nil || len(none) != 0 {
		t.Fatalf("missing folder: %v %v", none, err)
	}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	py := filepath.Join(dir, "a.py")
	sh := filepath.Join(dir, "b.sh")
	ex := filepath.Join(dir, "c")
	txt := filepath.Join(dir, "d.txt")
	bang := filepath.Join(dir, "e")
	os.WriteFile(py, []byte(""), 0o644)
	os.WriteFile(sh, []byte("echo\n"), 0o644)
	os.WriteFile(ex, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(txt, []byte("text"), 0o644)
	os.WriteFile(bang, []byte("#!/usr/bin/env python3\n"), 0o644)
	for _, c := range []struct {
		path string
		want string
	}{
		{py, "python3 -u " + py + " --x 1"}, {sh, "sh " + sh + " --x 1"}, {ex, ex + " --x 1"},
		{bang, "/usr/bin/env python3 " + bang + " --x 1"},
	} {
		argv, err := Command("python3", Script{Path: c.path}, []string{"--x", "1"})
		if err != nil || strings.Join(argv, " ") != c.want {
			t.Errorf("%s: %v %v", c.path, argv, err)
		}
	}
	if _, err := Command("python3", Script{Path: txt}, nil); !errors.Is(err, ErrNoInterpreter) {
		t.Errorf("text file: %v", err)
	}
	if _, err := Command("/no/such/python", Script{Path: py}, nil); !errors.Is(err, ErrInterpreterMissing) {
		t.Errorf("missing interpreter: %v", err)
	}
}
