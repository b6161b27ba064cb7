// Package serve is vpt report serve: a web view of the results store —
// runs, a run, campaigns, devices, trends — updated live over one
// Server-Sent Events stream per page, from the store's event log.
//
// Contract: every page reads the same store the runs write; every piece of
// recorded text is escaped (html/template, and a Content-Security-Policy
// that runs no inline script on vpt's own pages); files are served only
// from the runs/ and campaigns/ folders of the results folder (os.Root: no
// path or symlink leaves it); with a token, every request must carry it
// (constant-time comparison); a server on loopback without a token only
// answers requests addressed to a loopback name (no DNS rebinding); control
// actions (cancelling a campaign) exist only when AllowControl is set.
package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/store"
)

//go:embed templates/*.tmpl static/*
var assets embed.FS

// Device is a device of this host, as the configuration names it.
type Device struct {
	ID, Name, Model string
}

// Config is what a server needs.
type Config struct {
	Store      store.Store
	ResultsDir string
	HostName   string
	Devices    []Device
	// Token, when set, is required of every request: an Authorization:
	// Bearer header, the vpt_token cookie, or ?token= (which sets the
	// cookie).
	Token string
	// Loopback: the server listens on loopback only; without a token it
	// then refuses requests for other host names.
	Loopback bool
	// AllowControl enables the control actions (cancel a campaign).
	AllowControl bool
	Log          *slog.Logger
}

// Server serves the pages.
type Server struct {
	cfg   Config
	root  *os.Root
	hub   *hub
	mux   *http.ServeMux
	token [32]byte
}

// New builds a server over the results folder dir.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.ResultsDir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(cfg.ResultsDir)
	if err != nil {
		return nil, fmt.Errorf("results folder: %w", err)
	}
	s := &Server{cfg: cfg, root: root, hub: newHub(cfg.Store, cfg.Log), mux: http.NewServeMux(), token: sha256.Sum256([]byte(cfg.Token))}
	s.routes()
	return s, nil
}

// Run follows the event log until ctx ends; pages get live updates while
// it runs.
func (s *Server) Run(ctx context.Context) { s.hub.run(ctx) }

// Close releases the results folder.
func (s *Server) Close() error { return s.root.Close() }

// Handler is the server's HTTP handler, with its checks.
func (s *Server) Handler() http.Handler { return s.guard(s.mux) }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.pageRuns)
	m.HandleFunc("GET /runs/{id}", s.pageRun)
	m.HandleFunc("GET /runs/{id}/frame", s.liveFrame)
	m.HandleFunc("GET /campaigns", s.pageCampaigns)
	m.HandleFunc("GET /campaigns/{id}", s.pageCampaign)
	m.HandleFunc("POST /campaigns/{id}/cancel", s.cancelCampaign)
	m.HandleFunc("GET /devices", s.pageDevices)
	m.HandleFunc("GET /trends", s.pageTrends)
	m.HandleFunc("GET /events", s.events)
	m.HandleFunc("GET /files/{path...}", s.files)
	m.HandleFunc("GET /static/{name}", s.static)
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("name", "icon.svg")
		s.static(w, r)
	})
}

// guard checks every request: its host name, its token; and sets the
// headers that keep recorded text inert.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" && s.cfg.Loopback && !loopbackHost(r.Host) {
			http.Error(w, "this server answers only requests for localhost", http.StatusMisdirectedRequest)
			return
		}
		if s.cfg.Token != "" && !s.authorized(w, r) {
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
		next.ServeHTTP(w, r)
	})
}

// authorized checks the token of a request; a right ?token= sets the
// cookie and sends the browser to the same page without it.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if q := r.URL.Query().Get("token"); q != "" && s.tokenOK(q) {
		http.SetCookie(w, &http.Cookie{Name: "vpt_token", Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		u := *r.URL
		v := u.Query()
		v.Del("token")
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.tokenOK(bearer) {
		return true
	}
	if c, err := r.Cookie("vpt_token"); err == nil && s.tokenOK(c.Value) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="vpt"`)
	http.Error(w, "a token is needed: open this page with ?token=… (the token vpt report serve was started with)", http.StatusUnauthorized)
	return false
}

// tokenOK compares digests in constant time: neither the token's bytes
// nor its length show in the time an answer takes.
func (s *Server) tokenOK(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], s.token[:]) == 1
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrNeedToken: a server that listens beyond loopback needs a token.
var ErrNeedToken = errors.New("listening beyond loopback needs a token")

// IsLoopbackAddr tells whether a listen address binds loopback only.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HTTPServer is an http.Server for h with the timeouts a page server
// wants; event streams lift the write timeout for themselves.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
}
