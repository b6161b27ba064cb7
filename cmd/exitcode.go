package cmd

import (
	"context"
	"errors"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/internal/yamlfile"
	"github.com/vpt-dev/vpt/report"
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
		executor.ErrScriptNotFound, executor.ErrScriptOutside, executor.ErrScriptIsDir, executor.ErrNoInterpreter,
		capture.ErrUnknownDevice, capture.ErrBadDeviceConfig, capture.ErrUnknownKey,
		ui.ErrNotFound, ui.ErrNodeNotFound, ui.ErrInvalid, ui.ErrUnreachable,
		store.ErrBadURL, store.ErrNotFound, store.ErrAmbiguous,
		campaign.ErrInvalid,
	}
	infraErrors = []error{
		store.ErrUnavailable, capture.ErrUnreachable, capture.ErrToolMissing, capture.ErrDeviceBusy,
		executor.ErrInterpreterMissing, executor.ErrResultsDir, executor.ErrCapture, executor.ErrStore,
		report.ErrUpload,
	}
)

// exitError carries an exit code decided by a command (a run's verdict)
// with an optional message; silent ones print nothing more.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError is a mistake in how vpt was called.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string    { return e.msg }
func (e *usageError) HintText() string { return e.hint }

// ExitCode maps an error to the documented exit code. This is the only
// place that does.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	var ce *configError
	var ps yamlfile.Problems
	if errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &ps) {
		return ExitUsage
	}
	if errors.Is(err, context.Canceled) {
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

// StatusCode maps a result status to the exit code of a run.
func StatusCode(s store.Status) int {
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
