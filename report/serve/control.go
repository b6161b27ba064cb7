package serve

import (
	"errors"
	"net/http"
	"net/url"
	"syscall"

	"github.com/vpt-dev/vpt/store"
)

// cancelCampaign stops a running campaign gracefully, as a Ctrl-C at its
// terminal would: SIGINT to the vpt process that runs it, found by the
// owner its row records (boot, PID namespace, pid and start time, so that
// a reused pid is never signalled). A campaign run by another machine or
// PID namespace cannot be reached and is refused. Only with AllowControl,
// only from the server's own pages (Origin or Sec-Fetch-Site).
func (s *Server) cancelCampaign(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.AllowControl {
		http.Error(w, "control actions are off: start vpt report serve with --allow-control", http.StatusForbidden)
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	c, _, err := s.cfg.Store.GetCampaign(r.Context(), r.PathValue("id"))
	if err != nil {
		http.Error(w, "no such campaign", http.StatusNotFound)
		return
	}
	if c.Status != "running" {
		http.Error(w, "the campaign is not running", http.StatusConflict)
		return
	}
	if err := interrupt(c.Owner); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(c.ExecutionID), http.StatusSeeOther)
}

func interrupt(owner string) error {
	p, ok := store.ParseProcess(owner)
	me := store.ThisProcess()
	if !ok || me.Boot == "" || p.Boot != me.Boot || p.PIDNS != me.PIDNS {
		return errors.New("the campaign runs on another machine or in another container: stop it there")
	}
	if !store.ProcessAlive(p.PID, p.Start) {
		return errors.New("the vpt process of this campaign is gone; the next vpt command recovers it")
	}
	return syscall.Kill(p.PID, syscall.SIGINT)
}

// sameOrigin tells a request from the server's own pages from one a
// third-party page made the browser send.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
