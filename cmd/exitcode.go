package cmd

import (
	"context"
	"errors"
	"strings"

	"github.com/vpt-dev/vpt/agent"
	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/internal/yamlfile"
	"github.com/vpt-dev/vpt/report/upload"
	"github.com/vpt-dev/vpt/results"
	"github.com/vpt-dev/vpt/store"
)

// Exit codes, as DESIGN.md documents them.
const (
	ExitOK          = 0
	ExitFailed      = 1   // a script failed
	ExitUsage       = 2   // bad flag, bad file, unknown device, script or userinterface
	ExitInfra       = 3   // device unreachable, tool missing, store or upload unavailable
	ExitTimeout     = 4   // a script or the campaign ran past its limit
	ExitInterrupted = 130 // Ctrl-C or SIGTERM
)

// usageErrors and infraErrors classify the errors of the domain packages.
var (
	usageErrors = []error{
		executor.ErrScriptNotFound, executor.ErrScriptOutside, executor.ErrScriptIsDir, executor.ErrNoInterpreter, executor.ErrBadReference,
		capture.ErrUnknownDevice, capture.ErrBadDeviceConfig, capture.ErrUnknownKey,
		ui.ErrNotFound, ui.ErrNodeNotFound, ui.ErrInvalid, ui.ErrUnreachable,
		store.ErrBadURL, store.ErrNotFound, store.ErrAmbiguous,
		campaign.ErrInvalid, agent.ErrNeedsPostgres, agent.ErrSchema, agent.ErrNameTaken, results.ErrNotHere,
	}
	infraErrors = []error{
		store.ErrUnavailable, capture.ErrUnreachable, capture.ErrToolMissing, capture.ErrDeviceBusy,
		executor.ErrInterpreterMissing, executor.ErrPythonTooOld, executor.ErrPythonLib,
		executor.ErrResultsDir, executor.ErrDevice, executor.ErrCapture, executor.ErrStore,
		store.ErrNewerSchema, upload.ErrFailed, campaign.ErrNoDevice, errUploadPending, errChecksFailed, errVideoFailed,
	}
)

// errChecksFailed: vpt doctor found a required check failing.
var errChecksFailed = errors.New("required checks failed")

// errUploadPending: everything passed, but an upload failed and waits for
// `vpt report upload --pending` (an infrastructure error).
var errUploadPending = errors.New("upload pending")

// runVerdict carries a run's status to ExitCode; campaignVerdict a
// campaign's. Both print nothing more: the summary said it.
type runVerdict struct{ status store.Status }

func (v runVerdict) Error() string { return "" }

type campaignVerdict struct{ v campaign.Verdict }

func (v campaignVerdict) Error() string { return "" }

// usageError is a mistake in how vpt was called.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string    { return e.msg }
func (e *usageError) HintText() string { return e.hint }

// ExitCode maps an error to the documented exit code. This is the only
// place that does: commands return the domain's errors and verdicts.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var rv runVerdict
	var cv campaignVerdict
	// A failed `vpt api` call: for the shell script making it, a failure
	// like a false verdict.
	var ae *executor.APIError
	switch {
	case errors.As(err, &rv):
		return statusCode(rv.status)
	case errors.As(err, &cv):
		return verdictCode(cv.v)
	case errors.As(err, &ae):
		return ExitFailed
	}
	var ue *usageError
	var ce *configError
	var ps yamlfile.Problems
	if errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &ps) || isCobraUsage(err) {
		return ExitUsage
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, executor.ErrInterrupted) {
		return ExitInterrupted
	}
	for _, e := range usageErrors {
		if errors.Is(err, e) {
			return ExitUsage
		}
	}
	for _, e := range infraErrors {
		if errors.Is(err, e) {
			return ExitInfra
		}
	}
	// Anything unforeseen is vpt's or the machine's trouble, never a
	// verdict on the device under test.
	return ExitInfra
}

// isCobraUsage tells the usage errors cobra makes itself (flags it does
// not know), which carry no type.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand")
}

// statusCode is a run's exit code.
func statusCode(s store.Status) int {
	switch s {
	case store.StatusPassed, store.StatusFlaky:
		return ExitOK
	case store.StatusFailed:
		return ExitFailed
	case store.StatusTimeout:
		return ExitTimeout
	case store.StatusInterrupted:
		return ExitInterrupted
	}
	return ExitInfra
}

// verdictCode is a campaign's exit code.
func verdictCode(v campaign.Verdict) int {
	switch v {
	case campaign.VerdictPassed:
		return ExitOK
	case campaign.VerdictFailed:
		return ExitFailed
	case campaign.VerdictTimeout:
		return ExitTimeout
	case campaign.VerdictInterrupted:
		return ExitInterrupted
	}
	return ExitInfra
}
