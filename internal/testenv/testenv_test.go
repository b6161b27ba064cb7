package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how the test ended.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func run(f func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// A missing program fails under VPT_REQUIRE_SERVICES=1 and skips
// otherwise, naming the package to install; a present one does neither.
func TestMissingProgram(t *testing.T) {
	for _, require := range []string{"1", ""} {
		t.Setenv(RequireVar, require)
		r := run(func(tb testing.TB) { NeedTools(tb, "sh", "xdpyinfo-not-here", "sh") })
		msg := r.skipped
		if require == "1" {
			msg = r.failed
		}
		if msg == "" || r.failed != "" && r.skipped != "" || !strings.Contains(msg, "xdpyinfo-not-here is not installed") {
			t.Fatalf("%s=%q: failed %q, skipped %q", RequireVar, require, r.failed, r.skipped)
		}
	}
	if r := run(func(tb testing.TB) { NeedTools(tb, "sh") }); r.failed != "" || r.skipped != "" {
		t.Fatalf("sh is there: %+v", r)
	}
}

func TestMissingServer(t *testing.T) {
	t.Setenv(RequireVar, "1")
	t.Setenv("VPT_TEST_NOTHING", "")
	if r := run(func(tb testing.TB) { Server(tb, "VPT_TEST_NOTHING", "nothing") }); !strings.Contains(r.failed, "VPT_TEST_NOTHING is not set") {
		t.Fatalf("%+v", r)
	}
	t.Setenv("VPT_TEST_NOTHING", "x")
	var got string
	if r := run(func(tb testing.TB) { got = Server(tb, "VPT_TEST_NOTHING", "nothing") }); r.failed != "" || got != "x" {
		t.Fatalf("%+v %q", r, got)
	}
}
