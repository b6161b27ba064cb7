package executor

import (
	"encoding/json"

	"github.com/vpt-dev/vpt/internal/secret"
)

// masker masks the secrets of the settings in what a run records and
// shows: the script's output (terminal, tail, output.log), vpt's notes and
// what the script sends through the script API.
func (r *Runner) masker() *secret.Masker {
	r.maskOnce.Do(func() { r.mask = secret.NewMasker(r.Settings.Secrets...) })
	return r.mask
}

// unmaskedMethods pass their parameters to the device as they are and
// record nothing: a script may type a secret into the device under test
// on purpose.
var unmaskedMethods = map[string]bool{"text": true}

// maskParams masks the secrets in the parameters of a script API call, the
// one place where text from the script enters vpt's records (steps,
// messages, errors, tracebacks, summary, metadata, reasons).
func (run *runState) maskParams(method string, params json.RawMessage) json.RawMessage {
	if unmaskedMethods[method] {
		return params
	}
	return run.r.masker().JSON(params)
}
