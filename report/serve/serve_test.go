package serve

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
	_ "github.com/vpt-dev/vpt/store/sqlite"
)

// xss is what hostile script output looks like; none of it may reach a
// page unescaped.
const xss = `<script>window.pwned=1</script><img src=x onerror="window.pwned=1">"'&`

type fixture struct {
	t   *testing.T
	st  store.Store
	dir string
	srv *Server
	url string
	run *store.Result
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, dir: dir}
	f.run = f.addRun("zap "+xss, store.StatusFailed)
	cfg.Store, cfg.ResultsDir, cfg.HostName = st, dir, "host-a"
	cfg.Devices = []Device{{ID: "device1", Name: "STB " + xss, Model: "virtual"}}
	if f.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.srv.Run(ctx)
	hs := httptest.NewServer(f.srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

func (f *fixture) addRun(script string, status store.Status) *store.Result {
	f.t.Helper()
	start := time.Now().Add(-time.Minute)
	r := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: script, ScriptType: "x", HostName: "host-a",
		DeviceID: "device1", DeviceName: "d", DeviceModel: "virtual", Status: store.StatusRunning, StartedAt: start,
		RunDir: filepath.Join(f.dir, "runs"), ErrorMsg: "failed: " + xss,
		Details: store.Details{Summary: "summary " + xss, Steps: []store.Step{{Number: 1, Name: "step " + xss, Status: store.StatusFailed, Error: xss}}}}
	if status != store.StatusRunning {
		end := start.Add(2 * time.Second)
		r.Status, r.CompletedAt, r.ExecutionTimeMs = status, &end, 2000
	}
	r.RunDir = filepath.Join(f.dir, "runs", r.ID)
	os.MkdirAll(r.RunDir, 0o755)
	os.WriteFile(filepath.Join(r.RunDir, "output.log"), []byte("hello "+xss+"\n"), 0o644)
	if err := f.st.CreateResult(context.Background(), r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return resp, b.String()
}

// Every page answers, and shows recorded text only escaped.
func TestPagesEscape(t *testing.T) {
	f := newFixture(t, Config{Loopback: true})
	c := &store.Campaign{ID: store.NewID(), ExecutionID: "campaign_exec_1_x", TeamID: "t", Name: "Nightly " + xss,
		HostName: "host-a", DeviceName: "auto", Status: "running", StartedAt: time.Now(), ShardTotal: 1,
		ScriptConfigurations: []any{map[string]any{"script_name": "zap " + xss}}}
	if _, err := f.st.CreateCampaign(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	f.st.PutCampaignEntry(context.Background(), store.CampaignEntry{CampaignID: c.ID, Index: 0, Attempt: 1, ScriptName: "zap " + xss,
		DeviceID: "device1", Status: store.StatusFailed, ScriptResultID: f.run.ID, StartedAt: time.Now(), Error: xss})
	for _, p := range []string{"/", "/runs/" + f.run.ID, "/campaigns", "/campaigns/" + c.ExecutionID, "/devices", "/trends", "/?status=failed", "/?fragment=1"} {
		resp, body := get(t, f.url+p)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
		if strings.Contains(body, "<script>window.pwned") || strings.Contains(body, "<img src=x") {
			t.Fatalf("%s shows the payload unescaped:\n%s", p, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("%s: CSP %q", p, csp)
		}
	}
	if resp, _ := get(t, f.url+"/runs/nope"); resp.StatusCode != 404 {
		t.Fatalf("missing run: %d", resp.StatusCode)
	}
	if resp, _ := get(t, f.url+"/?from=yesterday"); resp.StatusCode != 400 {
		t.Fatalf("bad date: %d", resp.StatusCode)
	}
}

// Files come from runs/ and campaigns/ only: no "..", no symlink out, no
// database, no listing.
func TestFilesStayInside(t *testing.T) {
	f := newFixture(t, Config{Loopback: true})
	run := f.run.RunDir
	os.WriteFile(filepath.Join(f.dir, "secret.txt"), []byte("secret"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(run, "passwd"))
	os.Symlink(filepath.Join(f.dir, "secret.txt"), filepath.Join(run, "inside-link"))
	os.Symlink(f.dir, filepath.Join(run, "up"))
	ok, body := get(t, f.url+"/files/runs/"+f.run.ID+"/output.log")
	if ok.StatusCode != 200 || !strings.Contains(body, "hello") {
		t.Fatalf("a run file: %d", ok.StatusCode)
	}
	for _, p := range []string{
		"/files/vpt.db", "/files/secret.txt", "/files/runs/" + f.run.ID + "/passwd", "/files/runs/" + f.run.ID + "/up/secret.txt",
		"/files/runs/" + f.run.ID + "/up/vpt.db", "/files/runs/%2e%2e/vpt.db", "/files/runs/..%2fvpt.db", "/files/runs/" + f.run.ID,
		"/files/runs/" + f.run.ID + "/..%2f..%2fsecret.txt", "/files/runs/x%5c..%5c..%5csecret.txt", "/files//etc/passwd",
		"/runs/..%2f..%2fsecret.txt/frame",
	} {
		resp, body := get(t, f.url+p)
		if resp.StatusCode == 200 || strings.Contains(body, "root:") || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
	// A symlink inside the results folder that stays in runs/ is fine.
	os.Symlink("output.log", filepath.Join(run, "log-link"))
	if resp, _ := get(t, f.url+"/files/runs/"+f.run.ID+"/log-link"); resp.StatusCode != 200 {
		t.Fatalf("a link inside: %d", resp.StatusCode)
	}
	// Range requests (video seeking).
	resp, body := get(t, f.url+"/files/runs/"+f.run.ID+"/output.log", "Range", "bytes=0-4")
	if resp.StatusCode != 206 || body != "hello\n" {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
}

func TestToken(t *testing.T) {
	const token = "0123456789abcdef-token"
	f := newFixture(t, Config{Token: token})
	for _, c := range []struct {
		name string
		path string
		hdr  []string
		want int
	}{
		{"none", "/", nil, 401},
		{"wrong bearer", "/", []string{"Authorization", "Bearer nope"}, 401},
		{"prefix of the token", "/", []string{"Authorization", "Bearer " + token[:10]}, 401},
		{"wrong cookie", "/", []string{"Cookie", "vpt_token=nope"}, 401},
		{"wrong query", "/?token=nope", nil, 401},
		{"files too", "/files/runs/" + f.run.ID + "/output.log", nil, 401},
		{"events too", "/events", nil, 401},
		{"bearer", "/", []string{"Authorization", "Bearer " + token}, 200},
		{"cookie", "/devices", []string{"Cookie", "vpt_token=" + token}, 200},
		{"query sets the cookie", "/trends?token=" + token, nil, 303},
	} {
		resp, _ := get(t, f.url+c.path, c.hdr...)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if c.want == 303 {
			if loc := resp.Header.Get("Location"); loc != "/trends" || !strings.Contains(resp.Header.Get("Set-Cookie"), "vpt_token=") {
				t.Errorf("redirect to %q, cookie %q", loc, resp.Header.Get("Set-Cookie"))
			}
		}
	}
}

// On loopback without a token, a page for another host name (DNS
// rebinding) is refused.
func TestLoopbackHost(t *testing.T) {
	f := newFixture(t, Config{Loopback: true})
	if resp, _ := get(t, f.url+"/", "Host", "evil.example:7070"); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("another host: %d", resp.StatusCode)
	}
	for _, h := range []string{"localhost:7070", "127.0.0.1:7070", "[::1]:7070"} {
		if resp, _ := get(t, f.url+"/", "Host", h); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", h, resp.StatusCode)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:7070": true, "localhost:0": true, "[::1]:80": true, ":7070": false,
		"0.0.0.0:7070": false, "192.168.1.2:7070": false} {
		if IsLoopbackAddr(addr) != want {
			t.Errorf("IsLoopbackAddr(%q) != %v", addr, want)
		}
	}
}

func TestControlNeedsAllowControl(t *testing.T) {
	f := newFixture(t, Config{Loopback: true})
	resp, err := http.Post(f.url+"/campaigns/x/cancel", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cancel without --allow-control: %d", resp.StatusCode)
	}
	g := newFixture(t, Config{Loopback: true, AllowControl: true})
	// A cross-site form post is refused even then.
	req, _ := http.NewRequest("POST", g.url+"/campaigns/x/cancel", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-site cancel: %d", resp.StatusCode)
	}
}

// sseReader reads messages of an event stream.
type sseMsg struct{ id, event, data string }

func readSSE(t *testing.T, sc *bufio.Scanner, n int, deadline time.Duration, conn net.Conn) []sseMsg {
	t.Helper()
	var out []sseMsg
	var cur sseMsg
	if conn != nil {
		conn.SetReadDeadline(time.Now().Add(deadline))
	}
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" || cur.data != "" {
				out = append(out, cur)
			}
			cur = sseMsg{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data += line[6:]
		}
	}
	return out
}

// A stream sends events with their sequence numbers as ids, and a
// reconnect with Last-Event-ID replays what it missed; a run's stream
// carries its output.
func TestStreamReplay(t *testing.T) {
	f := newFixture(t, Config{Loopback: true})
	ctx := context.Background()
	open := func(query, last string) (*bufio.Scanner, func()) {
		req, _ := http.NewRequest("GET", f.url+"/events"+query, nil)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		return bufio.NewScanner(resp.Body), func() { resp.Body.Close() }
	}
	sc, closeIt := open("", "")
	time.Sleep(200 * time.Millisecond) // subscribed
	for i := 0; i < 3; i++ {
		e := store.NewEvent(store.EventRunStep, store.RunStep{Number: i + 1, Name: xss})
		e.RunID = f.run.ID
		if err := f.st.AppendEvents(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got := readSSE(t, sc, 3, 10*time.Second, nil)
	closeIt()
	if len(got) != 3 || got[0].event != "vpt" || !(got[0].id < got[1].id && got[1].id < got[2].id) {
		t.Fatalf("messages %+v", got)
	}
	sc, closeIt = open("", got[0].id)
	replayed := readSSE(t, sc, 2, 10*time.Second, nil)
	closeIt()
	if len(replayed) != 2 || replayed[0].id != got[1].id || replayed[1].id != got[2].id {
		t.Fatalf("replay after %s: %+v", got[0].id, replayed)
	}
	sc, closeIt = open("?run="+f.run.ID, "")
	defer closeIt()
	out := readSSE(t, sc, 1, 10*time.Second, nil)
	if len(out) != 1 || out[0].event != "output" || !strings.Contains(out[0].data, "hello") {
		t.Fatalf("output: %+v", out)
	}
}

// A client that stops reading is dropped, not waited for; the others
// go on.
func TestSlowClientDropped(t *testing.T) {
	f := newFixture(t, Config{Loopback: true})
	ctx := context.Background()
	slow, _, err := f.srv.hub.subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fast, _, _ := f.srv.hub.subscribe(ctx)
	got := make(chan int64, 1)
	go func() {
		var last int64
		for last < clientBuffer+50 {
			<-fast.wake
			for _, e := range fast.take() {
				last = e.Seq
			}
		}
		got <- last
	}()
	var evs []store.Event
	for i := 0; i < clientBuffer+50; i++ {
		evs = append(evs, store.NewEvent(store.EventAgentUp, nil))
	}
	if err := f.st.AppendEvents(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slow.dropped:
	case <-time.After(30 * time.Second):
		t.Fatal("a client that reads nothing was not dropped")
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the reading client did not get every event")
	}
}
