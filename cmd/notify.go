package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/report/notify"
)

// notifyBudget bounds the notifications of one command, retries included.
const notifyBudget = time.Minute

type notifyOptions struct {
	urls []string
	on   string
}

func addNotifyFlags(cmd *cobra.Command, o *notifyOptions) {
	f := cmd.Flags()
	f.StringArrayVar(&o.urls, "notify", nil, "post a JSON summary to this webhook `URL` when done (repeatable; default: notify.urls in vpt.yaml)")
	f.StringVar(&o.on, "notify-on", "", "notify on `failure` only, or always (default: notify.on in vpt.yaml, else always)")
}

// notifier builds the notifier of a command: the flags win over vpt.yaml.
// Bad URLs are usage errors, found before anything runs.
func (a *App) notifier(o notifyOptions) (*notify.Notifier, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	n := &notify.Notifier{URLs: cfg.Notify.URLs, On: cfg.Notify.On,
		Warn: func(format string, args ...any) { fmt.Fprintf(a.IO.Err, "vpt: "+format+"\n", args...) }}
	if len(o.urls) > 0 {
		n.URLs = o.urls
	}
	if o.on != "" {
		if o.on != notify.OnFailure && o.on != notify.OnAlways {
			return nil, &usageError{msg: fmt.Sprintf("--notify-on %q: use failure or always", o.on)}
		}
		n.On = o.on
	}
	if err := notify.Check(n.URLs); err != nil {
		return nil, &usageError{msg: err.Error(), hint: "for example --notify https://hooks.slack.com/services/…"}
	}
	return n, nil
}

// send posts a summary, within notifyBudget, whatever ctx says: a run
// interrupted by Ctrl-C is still told.
func (a *App) send(ctx context.Context, n *notify.Notifier, s notify.Summary) {
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyBudget)
	defer cancel()
	n.Send(ctx, s)
}

func (a *App) links() notify.Links {
	cfg, err := a.Config()
	if err != nil {
		return notify.Links{}
	}
	return notify.Links{BaseURL: cfg.Notify.BaseURL}
}
