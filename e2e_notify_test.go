package main

// Notifications end to end: a webhook receiver in the test.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vpt-dev/vpt/report/notify"
)

type receiver struct {
	mu       sync.Mutex
	got      []notify.Summary
	calls    int
	failures int // answer 500 to this many first calls
}

func newReceiver(t *testing.T, failures int) (*receiver, string) {
	r := &receiver{failures: failures}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if r.calls <= r.failures {
			http.Error(w, "busy", 503)
			return
		}
		b, _ := io.ReadAll(req.Body)
		var s notify.Summary
		if err := json.Unmarshal(b, &s); err != nil || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("body %q: %v", b, err)
		}
		r.got = append(r.got, s)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL + "/services/T000/B000/secret-part-of-the-hook"
}

func (r *receiver) summaries() []notify.Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Summary(nil), r.got...)
}

func TestNotify(t *testing.T) {
	p := campaignProject(t)
	hook, url := newReceiver(t, 1)
	dead := "http://127.0.0.1:1/hooks/another-secret-path"
	// A failing run: the webhook that answers 503 once gets it on the
	// retry; the dead one is given up on, said so on stderr without its
	// secret path; the exit code is the run's.
	r := p.vpt("run", "bad", "--notify", url, "--notify", dead)
	r.expect(t, 1, "notification to http://127.0.0.1:1/… failed", "the verdict stands")
	if strings.Contains(r.stderr, "another-secret-path") || strings.Contains(r.stderr, "secret-part") {
		t.Fatalf("a webhook's secret path on stderr: %s", r.stderr)
	}
	got := hook.summaries()
	if len(got) != 1 || hook.calls != 2 {
		t.Fatalf("%d notifications in %d calls", len(got), hook.calls)
	}
	s := got[0]
	if s.Kind != "run" || s.Status != "failed" || s.Passed || len(s.Failures) != 1 || s.Failures[0].Script != "bad" ||
		!strings.Contains(s.Text, "FAILED: bad on device1") || !strings.HasSuffix(s.Report, "report.html") || s.Schema != notify.Schema {
		t.Fatalf("summary: %+v", s)
	}
	// --notify-on failure: a pass says nothing.
	p.vpt("run", "ok", "--notify", url, "--notify-on", "failure").expect(t, 0)
	if n := len(hook.summaries()); n != 1 {
		t.Fatalf("a pass notified with --notify-on failure (%d)", n)
	}
	// vpt.yaml's notify: a campaign, with its failures and links to the
	// report server.
	cfg := readFile(t, p.dir+"/vpt.yaml")
	p.write("vpt.yaml", cfg+"notify: {urls: ['"+url+"'], on: always, base_url: 'http://lab:7070'}\n")
	p.write("c.yaml", `campaign_id: notified
name: Notified
device: [device1]
script_configurations:
  - {script_name: ok}
  - {script_name: bad}
`)
	p.vpt("campaign", "c.yaml").expect(t, 1)
	got = hook.summaries()
	if len(got) != 2 {
		t.Fatalf("%d notifications", len(got))
	}
	c := got[1]
	if c.Kind != "campaign" || c.Status != "failed" || len(c.Failures) != 1 || c.Failures[0].Script != "bad" ||
		c.Counts["passed"] != 1 || !strings.HasPrefix(c.Report, "http://lab:7070/campaigns/campaign_exec_") ||
		!strings.HasPrefix(c.Failures[0].Report, "http://lab:7070/runs/") || !strings.Contains(c.Text, "1 of 2 passed") {
		t.Fatalf("campaign summary: %+v", c)
	}
	p.vpt("run", "ok", "--notify", "ftp://x").expect(t, 2, "not an http:// or https:// URL")
	p.vpt("run", "ok", "--notify", url, "--notify-on", "sometimes").expect(t, 2, "--notify-on")
}
