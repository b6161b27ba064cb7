package executor

import (
	"errors"
	"syscall"
	"testing"

	"github.com/vpt-dev/vpt/store"
)

func TestDecide(t *testing.T) {
	yes, no := true, false
	failedStep := []store.Step{{Number: 1, Name: "bad", Kind: "step", Status: store.StatusFailed, Error: "m"}}
	failedNav := []store.Step{{Number: 1, Name: "home → live", Kind: "navigation", Status: store.StatusFailed}}
	failedAV := []store.Step{{Number: 1, Name: "No motion", Kind: "av", Status: store.StatusFailed}}
	frozen := &store.AVCheck{Video: true, Problems: []string{"the picture was frozen for 3s from 1s (at most 1s allowed)"}}
	clean := &store.AVCheck{Video: true, Audio: true, Passed: true}
	unchecked := &store.AVCheck{Audio: true, Error: "video.mp4 has no sound track to check"}
	for _, c := range []struct {
		name   string
		e      Evidence
		status store.Status
		source string
		reason string
	}{
		{"exit 0", Evidence{}, store.StatusPassed, SourceExitCode, ""},
		{"exit 3", Evidence{End: Ending{ExitCode: 3}}, store.StatusFailed, SourceExitCode, "exit code 3"},
		{"signal", Evidence{End: Ending{ExitCode: 137, Signal: syscall.SIGKILL}}, store.StatusFailed, SourceExitCode, "killed by signal 9 (killed)"},
		{"api pass", Evidence{APIVerdict: &yes}, store.StatusPassed, SourceAPI, ""},
		{"api fail", Evidence{APIVerdict: &no, APIReason: "why"}, store.StatusFailed, SourceAPI, "why"},
		{"api fail, exit 0", Evidence{APIVerdict: &no}, store.StatusFailed, SourceAPI, "the script reported failure"},
		{"failed step, then a pass", Evidence{APIVerdict: &yes, Steps: failedStep}, store.StatusFailed, SourceAPI, "step 1 (bad) failed: m"},
		{"failed step, no verdict", Evidence{Steps: failedStep}, store.StatusFailed, SourceAPI, "step 1 (bad) failed: m"},
		{"recovered navigation", Evidence{APIVerdict: &yes, Steps: failedNav}, store.StatusPassed, SourceAPI, ""},
		{"api pass, then a crash", Evidence{APIVerdict: &yes, End: Ending{ExitCode: 1}}, store.StatusFailed, SourceExitCode,
			"the script reported a pass, then ended with exit code 1"},
		{"marker pass", Evidence{Markers: Markers{Success: &yes}}, store.StatusPassed, SourceMarker, ""},
		{"marker fail, exit 0", Evidence{Markers: Markers{Success: &no}}, store.StatusFailed, SourceMarker, "the script printed SCRIPT_SUCCESS:false"},
		{"marker pass, then a crash", Evidence{Markers: Markers{Success: &yes}, End: Ending{ExitCode: 2}}, store.StatusFailed, SourceExitCode,
			"the script reported a pass, then ended with exit code 2"},
		{"api pass, marker fail", Evidence{APIVerdict: &yes, Markers: Markers{Success: &no}}, store.StatusFailed, SourceMarker,
			"the script printed SCRIPT_SUCCESS:false"},
		{"timeout wins", Evidence{APIVerdict: &yes, End: Ending{TimedOut: true, Killed: true}}, store.StatusTimeout, SourceTimeout,
			"timed out; the script ignored SIGTERM and was killed"},
		{"interrupt", Evidence{APIVerdict: &no, End: Ending{Interrupted: true}}, store.StatusInterrupted, SourceStop, "interrupted"},
		{"infrastructure", Evidence{APIVerdict: &yes, Infra: errors.New("device gone")}, store.StatusError, SourceInfra, "device gone"},
		{"a failed analysis step is the script's to judge", Evidence{APIVerdict: &yes, Steps: failedAV}, store.StatusPassed, SourceAPI, ""},
		{"frozen picture fails a pass", Evidence{APIVerdict: &yes, AV: frozen}, store.StatusFailed, SourceAVCheck,
			"A/V check: the picture was frozen for 3s from 1s (at most 1s allowed)"},
		{"frozen picture fails exit 0", Evidence{AV: frozen}, store.StatusFailed, SourceAVCheck,
			"A/V check: the picture was frozen for 3s from 1s (at most 1s allowed)"},
		{"clean recording keeps the pass", Evidence{Markers: Markers{Success: &yes}, AV: clean}, store.StatusPassed, SourceMarker, ""},
		{"the script's failure before the check's", Evidence{APIVerdict: &no, APIReason: "why", AV: frozen}, store.StatusFailed, SourceAPI, "why"},
		{"a crash before the check's failure", Evidence{End: Ending{ExitCode: 1}, AV: frozen}, store.StatusFailed, SourceExitCode, "exit code 1"},
		{"a check that could not be made", Evidence{APIVerdict: &yes, AV: unchecked}, store.StatusError, SourceAVCheck,
			"the A/V check could not be made: video.mp4 has no sound track to check"},
		{"timeout over a failed check", Evidence{End: Ending{TimedOut: true}, AV: frozen}, store.StatusTimeout, SourceTimeout, "timed out"},
		{"timeout over infrastructure", Evidence{Infra: errors.New("x"), End: Ending{TimedOut: true}}, store.StatusTimeout, SourceTimeout, "timed out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Decide(c.e)
			if v.Status != c.status || v.Source != c.source || v.Reason != c.reason {
				t.Fatalf("got %s from %s (%q), want %s from %s (%q)", v.Status, v.Source, v.Reason, c.status, c.source, c.reason)
			}
		})
	}
}
