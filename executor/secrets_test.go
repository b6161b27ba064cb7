package executor

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/secret"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// syncBuffer is a terminal that the test reads while the follower writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// A secret the script writes is masked on the terminal, in the tail and in
// output.log itself, also when it arrives in two pieces with a pause
// between them; words that contain it and short secrets are left alone;
// vpt's own notes are masked too.
func TestSinkMasksSecrets(t *testing.T) {
	const key = "R2secretKEY0123456789"
	log, r := openLog(t)
	var term syncBuffer
	var mu sync.Mutex
	s := newSink(NewTail(report.TailBytes), &markerScanner{}, newPrefixWriter(&term, "[s] "), &mu)
	s.mask = secret.NewMasker(key, "short")
	s.follow(log, r)

	log.Write([]byte("key=" + key + " word" + key + " short\n"))
	log.Write([]byte("Enter the code: "))
	// A prompt without a newline shows while the script waits.
	waitFor(t, "the prompt", func() bool { return strings.HasSuffix(term.String(), "Enter the code: ") })
	log.Write([]byte("\nsplit " + key[:7]))
	waitFor(t, "the first piece", func() bool { return strings.HasSuffix(term.String(), key[:7]) })
	log.Write([]byte(key[7:] + " end\n"))
	s.note(notePrefix + "an error mentioning " + key)
	s.stop()
	s.endLine()
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	stars := strings.Repeat("*", len(key))
	wantFile := "key=" + stars + " word" + key + " short\nEnter the code: \nsplit " + stars + " end\n[vpt] an error mentioning " + stars + "\n"
	if b, _ := os.ReadFile(log.Name()); string(b) != wantFile {
		t.Fatalf("output.log %q\nwant %q", b, wantFile)
	}
	for name, got := range map[string]string{"terminal": term.String(), "tail": string(s.tail.Bytes())} {
		if strings.Contains(got, " "+key) || strings.Contains(got, "="+key) {
			t.Fatalf("%s shows the secret: %q", name, got)
		}
		// The first piece of the split secret was shown before the rest
		// came (the pause); the rest is masked.
		if !strings.Contains(got, "key="+stars+" word"+key+" short") || !strings.Contains(got, "split "+key[:7]+stars[7:]+" end") {
			t.Fatalf("%s: %q", name, got)
		}
	}
}

// Text from the script API is masked once, for every method that records
// it; text typed into the device is not.
func TestMaskParams(t *testing.T) {
	run := &runState{r: &Runner{Settings: Settings{Secrets: []string{"tok-0123456789"}}}}
	p := json.RawMessage(`{"name":"login tok-0123456789","passed":false}`)
	if got := string(run.maskParams("step", p)); got != `{"name":"login **************","passed":false}` {
		t.Fatalf("step: %s", got)
	}
	if got := string(run.maskParams("text", json.RawMessage(`{"text":"tok-0123456789"}`))); got != `{"text":"tok-0123456789"}` {
		t.Fatalf("text: %s", got)
	}
}

func TestEnvironmentDropsSecrets(t *testing.T) {
	r := &Runner{Settings: Settings{
		BaseEnv:   []string{"PATH=/bin", "CLOUDFLARE_R2_SECRET_ACCESS_KEY=s", "VPT_STORE=postgres://u:p@h/d", "PGPASSWORD=p"},
		SecretEnv: []string{"CLOUDFLARE_R2_SECRET_ACCESS_KEY", "VPT_STORE", "PGPASSWORD"}, EnvPassthrough: []string{"PGPASSWORD"},
	}}
	run := &runState{r: r, res: &store.Result{}, log: r.log(), p: prepared{dev: capture.DeviceConfig{ID: "v", Model: "virtual"}}}
	env := strings.Join(run.environment("sock"), "\n")
	if strings.Contains(env, "CLOUDFLARE_R2_SECRET_ACCESS_KEY") || strings.Contains(env, "VPT_STORE") {
		t.Fatalf("a secret variable is in the environment:\n%s", env)
	}
	if !strings.Contains(env, "PGPASSWORD=p") || !strings.Contains(env, "PATH=/bin") || !strings.Contains(env, "VPT_CONTROL=sock") {
		t.Fatalf("environment:\n%s", env)
	}
}
