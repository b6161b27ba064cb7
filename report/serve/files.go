package serve

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"syscall"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/report"
)

// files serves a file of the results folder's runs/ or campaigns/ (never
// the database, never a folder listing). os.Root refuses any path that
// leaves the results folder, "..", absolute paths and symlinks included,
// so a script that leaves a symlink to /etc/passwd in its run folder gets
// a 404. http.ServeContent answers range requests (video seeking).
func (s *Server) files(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	clean := path.Clean("/" + name)[1:]
	top, _, _ := strings.Cut(clean, "/")
	if clean != name || (top != "runs" && top != "campaigns") || strings.Contains(name, "\\") {
		http.NotFound(w, r)
		return
	}
	s.serveFile(w, r, clean)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, err := s.root.Open(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ELOOP) {
			s.cfg.Log.Info("file refused", "path", name, "err", err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Security-Policy", filePolicy(name))
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// filePolicy is the Content-Security-Policy of a file of the results
// folder. Every file gets a sandbox, whatever its name or the type it is
// served as (an extensionless file is sniffed as HTML; SVG and XHTML run
// scripts too): an origin of its own, which reads no other page of the
// server, sends no form and has no cookie, whoever wrote it.
//   - vpt's own reports (a run's report.html, a campaign's index.html, at
//     their places) carry their script and style inline; what a script
//     printed is escaped in them, and should anything run, it can reach
//     nothing (connect-src 'none'). A script can write its run's
//     report.html until vpt writes its own: the sandbox holds it.
//   - any other file, which a script left in its run folder, runs nothing.
//
// Pictures and videos shown by vpt's pages are not documents: the policy
// does not apply to them there.
func filePolicy(name string) string {
	const media = "img-src 'self' data:; media-src 'self'; connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
	if ownReport(name) {
		return "sandbox allow-scripts; default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " + media
	}
	return "sandbox; default-src 'none'; style-src 'unsafe-inline'; " + media
}

// ownReport tells vpt's reports by their places: runs/<id>/report.html,
// campaigns/<id>/index.html.
func ownReport(name string) bool {
	parts := strings.Split(name, "/")
	return len(parts) == 3 && (parts[0] == "runs" && parts[2] == report.ReportHTML ||
		parts[0] == "campaigns" && parts[2] == report.CampaignHTML)
}

// liveFrame serves a running run's latest picture.
func (s *Server) liveFrame(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	name := path.Join("runs", id, executor.LiveFrame)
	if _, err := s.root.Stat(name); err != nil {
		// No picture yet (the first comes a second into the script), or
		// none any more: a placeholder, not an error.
		b, _ := assets.ReadFile("static/noframe.svg")
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(b)
		return
	}
	s.serveFile(w, r, name)
}

// validID accepts run ids (UUIDs) and campaign execution ids: letters,
// digits, '-' and '_' only.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := assets.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(b)
}
