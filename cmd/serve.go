package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/report/serve"
)

type serveOptions struct {
	addr         string
	token        string
	allowControl bool
}

// serveTokenEnv holds the token of vpt report serve, for those who keep it
// out of the command line (and so out of ps).
const serveTokenEnv = "VPT_SERVE_TOKEN"

func newReportServeCmd(app *App) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:7070]",
		Short: "Serve a live web view of runs, campaigns, devices and trends",
		Long: `Serve the results store as web pages, updated live (Server-Sent Events): the
runs, newest first, with those running pinned (step, elapsed, ETA); one run
with its output, current step and the device's screen while it runs, its
report and video after; campaigns with a lane per device; this host's devices;
trends per script.

It listens on loopback by default. Listening on any other address needs a
token (--token, or ` + serveTokenEnv + `), asked of every request: open the page
once with ?token=TOKEN and the browser keeps it in a cookie; scripts send
Authorization: Bearer TOKEN. --allow-control adds a cancel button to running
campaigns of this machine.`,
		Example: `  vpt report serve
  ` + serveTokenEnv + `=$(openssl rand -hex 16) vpt report serve --addr 0.0.0.0:7070
  vpt report serve --allow-control`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:7070", "listen on this `host:port` (port 0: any free port)")
	f.StringVar(&o.token, "token", "", "require this `token` of every request (default $"+serveTokenEnv+"); needed beyond loopback")
	f.BoolVar(&o.allowControl, "allow-control", false, "allow cancelling running campaigns from the pages")
	return cmd
}

func runServe(ctx context.Context, app *App, o serveOptions) error {
	if o.token == "" {
		o.token = envMap(app.Environ)[serveTokenEnv]
	}
	_, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("--addr %q: %v", o.addr, err), hint: "for example --addr 127.0.0.1:7070"}
	}
	// A number must be a port; a name (http) is net.Listen's to look up.
	if n, err := strconv.Atoi(port); err == nil && (n < 0 || n > 65535) {
		return &usageError{msg: fmt.Sprintf("--addr %s: port %s is not a port (0 to 65535)", o.addr, port), hint: "for example --addr 127.0.0.1:7070"}
	}
	loopback := serve.IsLoopbackAddr(o.addr)
	if !loopback && o.token == "" {
		return &usageError{msg: fmt.Sprintf("--addr %s listens beyond this machine: %v", o.addr, serve.ErrNeedToken),
			hint: "give --token TOKEN (or set " + serveTokenEnv + "), or listen on 127.0.0.1"}
	}
	if o.token != "" && len(o.token) < 16 {
		return &usageError{msg: "--token is too short to guard anything", hint: "use 16 characters or more, such as: openssl rand -hex 16"}
	}
	cfg, reg, err := app.Registry()
	if err != nil {
		return err
	}
	st, err := app.Store(ctx)
	if err != nil {
		return err
	}
	var devices []serve.Device
	for _, d := range reg.Devices() {
		devices = append(devices, serve.Device{ID: d.ID, Name: d.Name, Model: d.Model})
	}
	srv, err := serve.New(serve.Config{Store: st, ResultsDir: cfg.ResultsDir, HostName: cfg.HostName, Devices: devices,
		Token: o.token, Loopback: loopback, AllowControl: o.allowControl, Log: app.Log()})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.addr, err)
	}
	hs := serve.HTTPServer(srv.Handler())
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go srv.Run(hctx)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(app.IO.Err, "vpt: serving http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		hs.Close()
	}
	// Ctrl-C is how a server is stopped: that is success, not an
	// interrupted job.
	return nil
}
