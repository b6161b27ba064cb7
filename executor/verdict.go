package executor

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/vpt-dev/vpt/store"
)

// Verdict sources (result details' verdict_source).
const (
	SourceAPI      = "api"       // the script API: vpt.verdict, vpt.fail, a failed step
	SourceMarker   = "marker"    // the last SCRIPT_SUCCESS line
	SourceExitCode = "exit_code" // the exit code
	SourceTimeout  = "timeout"
	SourceStop     = "interrupt"
	SourceInfra    = "infrastructure"
	SourceAVCheck  = "av_check" // the check of the recording (check_video, check_audio)
)

// Evidence is what a run's verdict is decided from.
type Evidence struct {
	End Ending
	// APIVerdict is what the script reported through the script API (nil:
	// nothing); a false one is sticky (vpt.fail, or a verdict of failure).
	APIVerdict *bool
	APIReason  string
	Steps      []store.Step
	Markers    Markers
	// Infra is the first infrastructure error of the run.
	Infra error
	// AV is the check of the recording, when the run asked for one.
	AV *store.AVCheck
}

// Verdict is a run's status with the reason and where it came from.
type Verdict struct {
	Status store.Status
	Reason string
	Source string
}

// Decide is the one rule for a run's status. In order: a timeout, an
// interrupt, an infrastructure error or a recording check that could not
// be made; then any failure the script reported (vpt.fail or a false
// verdict, a failed step of its own, a SCRIPT_SUCCESS:false line) — a
// failure stays a failure whatever follows; then how the script ended: a
// non-zero exit or a signal fails the run even after a reported pass (a
// crash after a pass is not a pass); then the recording check: a picture
// black or frozen, or sound silent, for longer than allowed fails the run;
// then the pass the script reported, else exit code 0.
func Decide(e Evidence) Verdict {
	end := e.End
	switch {
	case end.TimedOut:
		reason := "timed out"
		if end.Killed {
			reason += "; the script ignored SIGTERM and was killed"
		}
		return Verdict{store.StatusTimeout, reason, SourceTimeout}
	case end.Interrupted:
		return Verdict{store.StatusInterrupted, "interrupted", SourceStop}
	case e.Infra != nil:
		return Verdict{store.StatusError, e.Infra.Error(), SourceInfra}
	case e.AV != nil && e.AV.Error != "":
		return Verdict{store.StatusError, "the A/V check could not be made: " + e.AV.Error, SourceAVCheck}
	}
	failedStep := firstFailedStep(e.Steps)
	switch {
	case e.APIVerdict != nil && !*e.APIVerdict:
		return Verdict{store.StatusFailed, cmp.Or(e.APIReason, failedStep, "the script reported failure"), SourceAPI}
	case failedStep != "":
		return Verdict{store.StatusFailed, failedStep, SourceAPI}
	case e.Markers.Success != nil && !*e.Markers.Success:
		return Verdict{store.StatusFailed, "the script printed SCRIPT_SUCCESS:false", SourceMarker}
	}
	reported := e.APIVerdict != nil || e.Markers.Success != nil
	if end.ExitCode != 0 || end.Signal != 0 {
		how := fmt.Sprintf("exit code %d", end.ExitCode)
		if end.Signal != 0 {
			how = fmt.Sprintf("killed by signal %d (%s)", end.Signal, end.Signal)
		}
		if reported {
			how = "the script reported a pass, then ended with " + how
		}
		return Verdict{store.StatusFailed, how, SourceExitCode}
	}
	if e.AV != nil && !e.AV.Passed {
		return Verdict{store.StatusFailed, "A/V check: " + strings.Join(e.AV.Problems, "; "), SourceAVCheck}
	}
	switch {
	case e.APIVerdict != nil:
		return Verdict{store.StatusPassed, "", SourceAPI}
	case e.Markers.Success != nil:
		return Verdict{store.StatusPassed, "", SourceMarker}
	}
	return Verdict{store.StatusPassed, "", SourceExitCode}
}

// firstFailedStep describes the first failed step the script declared.
// Navigation steps and verifications are the script's to judge: a goto that
// recovered has a failed step and still arrived.
func firstFailedStep(steps []store.Step) string {
	for _, st := range steps {
		if st.Kind == "step" && st.Status == store.StatusFailed {
			s := fmt.Sprintf("step %d (%s) failed", st.Number, st.Name)
			if st.Error != "" {
				s += ": " + st.Error
			}
			return s
		}
	}
	return ""
}

func passFail(ok bool) store.Status {
	if ok {
		return store.StatusPassed
	}
	return store.StatusFailed
}
