package executor

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// Call speaks to the run's server as a script would: results as vpt wrote
// them, errors with their code, run_ended once the run has closed its API.
func TestCallTheServer(t *testing.T) {
	run := &runState{r: &Runner{}, start: time.Now(), apiCtx: context.Background(), log: slog.New(slog.DiscardHandler)}
	srv, err := run.serveAPI()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := Call(ctx, srv.Address(), "ping", nil); err != nil || string(got) != "{}" {
		t.Fatalf("ping: %s %v", got, err)
	}
	if _, err := Call(ctx, srv.Address(), "summary", map[string]any{"text": "hello"}); err != nil || run.summary != "hello" {
		t.Fatalf("summary: %q %v", run.summary, err)
	}
	var ae *APIError
	if _, err := Call(ctx, srv.Address(), "nonsense", nil); !errors.As(err, &ae) || ae.Code != CodeUnknown {
		t.Fatalf("unknown method: %v", err)
	}
	if _, err := Call(ctx, srv.Address(), "summary", map[string]any{"txet": "x"}); !errors.As(err, &ae) || ae.Code != CodeBadParams {
		t.Fatalf("unknown parameter: %v", err)
	}
	srv.Close()
	if _, err := Call(ctx, srv.Address(), "ping", nil); !errors.As(err, &ae) || ae.Code != CodeRunEnded {
		t.Fatalf("after the run: %v", err)
	}
}
