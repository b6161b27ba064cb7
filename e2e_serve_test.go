package main

// vpt report serve end to end: its stream against runs other vpt
// processes make, its refusals.

import (
	"bufio"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// serveProject starts vpt report serve on a free port and returns its URL.
func (p *project) serve(t *testing.T, extra []string, args ...string) string {
	t.Helper()
	_, out := p.background(t, extra, "serving http://", append([]string{"report", "serve", "--addr", "127.0.0.1:0"}, args...)...)
	m := regexp.MustCompile(`serving (http://[0-9.:]+)/`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no address in %q", out.String())
	}
	return m[1]
}

type sseEvent struct {
	id    int64
	event string
	data  string
}

// sseStream reads an event stream in the background.
func sseStream(t *testing.T, url, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 1000)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					ch <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data += line[6:]
			}
		}
	}()
	return ch, func() { resp.Body.Close() }
}

// next returns the next "vpt" event of the stream.
func nextEvent(t *testing.T, ch <-chan sseEvent) (sseEvent, store.Event) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if m.event != "vpt" {
				continue
			}
			var e store.Event
			if err := json.Unmarshal([]byte(m.data), &e); err != nil {
				t.Fatalf("event data %q: %v", m.data, err)
			}
			return m, e
		case <-timeout:
			t.Fatal("no event within a minute")
		}
	}
}

// The stream hears of a run another vpt process makes, with increasing
// ids; a reconnect with Last-Event-ID replays what came after.
func TestServeStreamsAnotherProcess(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/slow.py", `import time, vpt
print("starting", flush=True)
vpt.goto("live")
vpt.step("waited", True)
time.sleep(1.5)
print("done", flush=True)
`)
	p.vpt("events").expect(t, 0) // the store exists
	url := p.serve(t, nil)
	ch, stop := sseStream(t, url+"/events", "")
	time.Sleep(300 * time.Millisecond)
	run, _ := p.background(t, nil, "", "run", "slow")
	var ids []int64
	var types []string
	var runID string
	for {
		m, e := nextEvent(t, ch)
		ids = append(ids, m.id)
		types = append(types, string(e.Type))
		if m.id != e.Seq {
			t.Fatalf("id %d, seq %d", m.id, e.Seq)
		}
		if e.Type == store.EventRunStarted {
			runID = e.RunID
		}
		if e.Type == store.EventDeviceIdle {
			break
		}
	}
	stop()
	if err := run.Wait(); err != nil {
		t.Fatalf("the run: %v", err)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("ids do not increase: %v", ids)
		}
	}
	all := strings.Join(types, " ")
	if !strings.HasPrefix(all, "run.queued run.started device.busy") || !strings.Contains(all, "run.step") ||
		!strings.HasSuffix(all, "run.finished device.idle") || runID == "" {
		t.Fatalf("events: %s", all)
	}
	// Reconnect after the third: the rest is replayed, in order.
	ch, stop = sseStream(t, url+"/events", strconv.FormatInt(ids[2], 10))
	defer stop()
	for _, want := range ids[3:] {
		if m, _ := nextEvent(t, ch); m.id != want {
			t.Fatalf("replayed %d, want %d", m.id, want)
		}
	}
	// The run's own stream: the output of the run, whole.
	rch, rstop := sseStream(t, url+"/events?run="+runID, "")
	defer rstop()
	deadline := time.After(30 * time.Second)
	for got := ""; !strings.Contains(got, "done"); {
		select {
		case m := <-rch:
			if m.event == "output" {
				var s string
				json.Unmarshal([]byte(m.data), &s)
				got += s
			}
		case <-deadline:
			t.Fatalf("output: %q", got)
		}
	}
}

func TestServeRefusals(t *testing.T) {
	p := newProject(t)
	p.vpt("report", "serve", "--addr", "0.0.0.0:0").expect(t, 2, "needs a token")
	p.vpt("report", "serve", "--addr", "0.0.0.0:0", "--token", "short").expect(t, 2, "too short")
	p.vpt("report", "serve", "--addr", "127.0.0.1:99999").expect(t, 2, "port 99999 is not a port")
	p.vpt("report", "serve", "--addr", "nonsense").expect(t, 2, "--addr")
	const token = "a-token-of-twenty-chars"
	url := p.serve(t, []string{"VPT_SERVE_TOKEN=" + token})
	for _, c := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong-token-of-twenty", 401}, {"Bearer " + token, 200}} {
		req, _ := http.NewRequest("GET", url+"/", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("%q: %d, want %d", c.auth, resp.StatusCode, c.want)
		}
	}
	// Traversal out of the results folder, through the real server.
	for _, path := range []string{"/files/vpt.db", "/files/runs/..%2fvpt.db", "/files/runs/%2e%2e/%2e%2e/etc/passwd"} {
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("%s served", path)
		}
	}
}

// --allow-control: the cancel button stops a campaign another vpt process
// runs, as a Ctrl-C would; without it there is no such action.
func TestServeCancelCampaign(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: long
name: Long
device: [device1]
script_configurations:
  - {script_name: nap, parameters: {s: 60}}
  - {script_name: ok}
`)
	p.vpt("events").expect(t, 0)
	url := p.serve(t, nil, "--allow-control")
	camp, out := p.background(t, nil, "", "campaign", "c.yaml", "--execution-id", "campaign_exec_3_cancel")
	// Once its first run started, cancel it from the page's form.
	waitFor(t, func() bool {
		resp, err := http.Get(url + "/campaigns/campaign_exec_3_cancel")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		bufio.NewReader(resp.Body).WriteTo(b)
		return strings.Contains(b.String(), `id="cancel"`) && strings.Contains(b.String(), "running</span></td><td>device1")
	})
	req, _ := http.NewRequest("POST", url+"/campaigns/campaign_exec_3_cancel/cancel", nil)
	req.Header.Set("Origin", url)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	done := make(chan error, 1)
	go func() { done <- camp.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the campaign did not stop:\n%s", out.String())
	}
	if code := camp.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, out.String())
	}
	r := p.vpt("events", "--campaign", "campaign_exec_3_cancel", "--type", "campaign.finished")
	if !strings.Contains(r.stdout, `"status":"cancelled"`) {
		t.Fatalf("campaign.finished: %s", r.stdout)
	}
}
