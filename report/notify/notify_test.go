package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// What may pass on a second try is tried again; a refusal is not.
func TestRetries(t *testing.T) {
	for _, c := range []struct {
		codes []int
		calls int32
		fails bool
	}{
		{[]int{200}, 1, false},
		{[]int{503, 429, 200}, 3, false},
		{[]int{500, 500, 500, 500, 500}, 4, true},
		{[]int{404, 200}, 1, true},
	} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1) - 1
			w.WriteHeader(c.codes[min(int(i), len(c.codes)-1)])
		}))
		var warned []string
		nt := &Notifier{URLs: []string{srv.URL + "/hook/secret"}, Backoff: time.Millisecond,
			Warn: func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }}
		nt.Send(context.Background(), Summary{Passed: true})
		srv.Close()
		if n.Load() != c.calls || (len(warned) > 0) != c.fails {
			t.Errorf("%v: %d calls, warnings %v", c.codes, n.Load(), warned)
		}
		for _, w := range warned {
			if strings.Contains(w, "secret") {
				t.Errorf("the webhook's path in %q", w)
			}
		}
	}
}

func TestWants(t *testing.T) {
	n := &Notifier{URLs: []string{"http://x"}, On: OnFailure}
	if n.Wants(true) || !n.Wants(false) {
		t.Fatal("on failure")
	}
	n.On = OnAlways
	if !n.Wants(true) {
		t.Fatal("always")
	}
	if (&Notifier{}).Wants(false) {
		t.Fatal("no URL")
	}
	if Redact("https://hooks.slack.com/services/T1/B2/xyz") != "https://hooks.slack.com/…" || Redact("::") != "a webhook" {
		t.Fatal(Redact("https://hooks.slack.com/services/T1/B2/xyz"))
	}
	if Check([]string{"https://ok.example/x"}) != nil || Check([]string{"file:///etc/passwd"}) == nil || Check([]string{"http://"}) == nil {
		t.Fatal("check")
	}
}
