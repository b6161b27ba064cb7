package executor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// ProtocolVersion is the version of the script API protocol
// (docs/script-api.md). Requests name the version they speak; vpt answers
// any version up to its own.
const ProtocolVersion = 1

// maxRequestBytes bounds one request line.
const maxRequestBytes = 1 << 20

// Error codes of the script API.
const (
	CodeBadRequest   = "bad_request" // not JSON, or not a request
	CodeVersion      = "bad_version" // a protocol version vpt does not speak
	CodeUnknown      = "unknown_method"
	CodeBadParams    = "bad_params"
	CodeNotFound     = "not_found"     // node, userinterface
	CodeUnreachable  = "unreachable"   // no path to the node
	CodeNotSupported = "not_supported" // the device lacks the capability
	CodeToolMissing  = "tool_missing"  // a program vpt needs is not installed (tesseract)
	CodeDevice       = "device_error"
	CodeNavigation   = "navigation_failed"
	CodeRunEnded     = "run_ended"
)

// apiRequest is one line a script sends.
type apiRequest struct {
	V      int             `json:"v"`
	ID     any             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// APIError is the error of a reply of the script API: a code of the list
// above and a message for people. Call returns it for a failed call.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// apiReply is one line vpt answers: the server sends it with any result
// (apiReply[any]), the client reads the result as it came
// (apiReply[json.RawMessage]).
type apiReply[R any] struct {
	V      int       `json:"v"`
	ID     any       `json:"id"`
	OK     bool      `json:"ok"`
	Result R         `json:"result,omitempty"`
	Error  *APIError `json:"error,omitempty"`
}

// apiServer is the control socket of one run. Only the run's own script
// knows its path, in a folder only this user can enter.
type apiServer struct {
	run   *runState
	dir   string
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conn  map[net.Conn]bool
	close sync.Once
}

func (run *runState) serveAPI() (*apiServer, error) {
	dir, err := os.MkdirTemp("", "vpt-api-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "control.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &apiServer{run: run, dir: dir, ln: ln, conn: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Address is the value of VPT_CONTROL.
func (s *apiServer) Address() string { return s.ln.Addr().String() }

func (s *apiServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conn[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

// serve answers the requests of one connection in order; connections are
// served concurrently.
func (s *apiServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conn, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 64*1024)
	w := bufio.NewWriter(c)
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				s.write(w, apiReply[any]{V: ProtocolVersion, Error: &APIError{CodeBadRequest, fmt.Sprintf("request longer than %d bytes", maxRequestBytes)}})
			}
			return
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		s.write(w, s.run.handle(line))
	}
}

func (s *apiServer) write(w *bufio.Writer, rep apiReply[any]) {
	b, err := json.Marshal(rep)
	if err != nil {
		b, _ = json.Marshal(apiReply[any]{V: ProtocolVersion, ID: rep.ID, Error: &APIError{CodeBadRequest, "reply not encodable: " + err.Error()}})
	}
	w.Write(b)
	w.WriteByte('\n')
	w.Flush()
}

var errLineTooLong = errors.New("line too long")

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRequestBytes {
			return nil, errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// Close stops serving and removes the socket; it may be called more than
// once.
func (s *apiServer) Close() {
	s.close.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conn {
			// Let an answer being written finish, then hang up.
			c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		}
		s.mu.Unlock()
		s.wg.Wait()
		os.RemoveAll(s.dir)
	})
}

// handle answers one request line.
func (run *runState) handle(line []byte) apiReply[any] {
	var req apiRequest
	if err := json.Unmarshal(line, &req); err != nil {
		return apiReply[any]{V: ProtocolVersion, Error: &APIError{CodeBadRequest, "malformed JSON: " + err.Error()}}
	}
	rep := apiReply[any]{V: ProtocolVersion, ID: req.ID}
	switch {
	case req.Method == "":
		rep.Error = &APIError{CodeBadRequest, `a request needs a "method"`}
		return rep
	case req.V > ProtocolVersion:
		rep.Error = &APIError{CodeVersion, fmt.Sprintf("protocol version %d is newer than this vpt's (%d); upgrade vpt", req.V, ProtocolVersion)}
		return rep
	}
	run.mu.Lock()
	ended := run.ended
	run.mu.Unlock()
	if ended {
		rep.Error = &APIError{CodeRunEnded, "the run has ended; the script API is closed"}
		return rep
	}
	h, ok := apiMethods[req.Method]
	if !ok {
		names := make([]string, 0, len(apiMethods))
		for k := range apiMethods {
			names = append(names, k)
		}
		sort.Strings(names)
		rep.Error = &APIError{CodeUnknown, fmt.Sprintf("unknown method %q (methods: %s)", req.Method, strings.Join(names, ", "))}
		return rep
	}
	if len(req.Params) == 0 || string(req.Params) == "null" {
		req.Params = json.RawMessage("{}")
	}
	req.Params = run.maskParams(req.Method, req.Params)
	start := time.Now()
	result, err := h.call(run.apiCtx, run, req.Params)
	if run.log.Enabled(context.Background(), slog.LevelDebug) {
		run.log.Debug("script API "+req.Method, "params", string(req.Params), "took", time.Since(start), "err", errText(err))
	}
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = toAPIError(err)
		}
		run.deviceLost(req.Method, err)
		rep.Error = ae
		return rep
	}
	rep.OK = true
	if result == nil {
		result = struct{}{}
	}
	rep.Result = result
	return rep
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func toAPIError(err error) *APIError {
	code := CodeDevice
	switch {
	case errors.Is(err, ui.ErrNodeNotFound), errors.Is(err, ui.ErrNotFound):
		code = CodeNotFound
	case errors.Is(err, ui.ErrUnreachable):
		code = CodeUnreachable
	case errors.Is(err, capture.ErrNotSupported):
		code = CodeNotSupported
	case errors.Is(err, capture.ErrToolMissing):
		code = CodeToolMissing
	case errors.Is(err, capture.ErrUnknownKey):
		code = CodeBadParams
	case errors.Is(err, errNavigation):
		code = CodeNavigation
	}
	return &APIError{code, err.Error()}
}

// apiMethod answers one method of the protocol. Device work runs on ctx,
// the run's API context: it ends when the script times out, is
// interrupted or exits, so no device call outlives its script.
type apiMethod struct {
	// params is the type the params decode into; its JSON fields are the
	// method's parameters, as docs/script-api.md lists them (a test holds
	// the two together). nil: any keys (metadata).
	params reflect.Type
	call   func(ctx context.Context, run *runState, params json.RawMessage) (any, error)
}

// method registers a handler of typed params: unknown fields are refused.
func method[P any](f func(ctx context.Context, run *runState, p P) (any, error)) apiMethod {
	return apiMethod{params: reflect.TypeFor[P](), call: func(ctx context.Context, run *runState, raw json.RawMessage) (any, error) {
		p, err := decode[P](raw)
		if err != nil {
			return nil, err
		}
		return f(ctx, run, p)
	}}
}

var apiMethods map[string]apiMethod

func init() {
	apiMethods = map[string]apiMethod{
		"hello":      method(apiHello),
		"ping":       method(func(context.Context, *runState, struct{}) (any, error) { return nil, nil }),
		"screenshot": method(apiScreenshot),
		"press":      method(apiPress),
		"tap":        method(apiTap),
		"text":       method(apiText),
		"swipe":      method(apiSwipe),
		"goto":       method(apiGoto),
		"edge":       method(apiEdge),
		"verify":     method(apiVerify),
		"where":      method(apiWhere),
		"tree":       method(apiTree),
		"step":       method(apiStep),
		"step_start": method(apiStepStart),
		"step_end":   method(apiStepEnd),
		"metadata":   {call: apiMetadata},
		"summary":    method(apiSummary),
		"fail":       method(apiFail),
		"verdict":    method(apiVerdict),
		// Picture and sound analysis (av*.go).
		"is_black":               method(apiIsBlack),
		"wait_for_motion":        method(apiWaitForMotion),
		"press_and_wait":         method(apiPressAndWait),
		"measure_zap":            method(apiMeasureZap),
		"check_video":            method(apiCheckVideo),
		"check_audio":            method(apiCheckAudio),
		"wait_for_volume_change": method(apiWaitForVolumeChange),
		"ocr":                    method(apiOCR),
		"match_text":             method(apiMatchText),
	}
}

func decode[T any](params json.RawMessage) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, &APIError{CodeBadParams, "bad params: " + err.Error()}
	}
	return v, nil
}

// deviceCall bounds one device call within the API context.
func deviceCall(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, deviceCallTimeout)
}

func apiHello(_ context.Context, run *runState, _ struct{}) (any, error) {
	info := run.dev.Info()
	return map[string]any{
		"protocol": ProtocolVersion, "run_id": run.res.ID, "script": run.res.ScriptName,
		"device": info, "userinterface": run.res.UserInterface, "team_id": run.res.TeamID,
		"host": run.res.HostName, "run_dir": run.dir,
	}, nil
}

type screenshotParams struct {
	Label string `json:"label"`
}

func apiScreenshot(ctx context.Context, run *runState, p screenshotParams) (any, error) {
	if p.Label == "" {
		p.Label = "screenshot"
	}
	if !run.dev.Info().Has(capture.CapScreenshot) {
		return nil, fmt.Errorf("screenshot: %w", capture.ErrNotSupported)
	}
	sc, err := run.screenshot(ctx, p.Label)
	if err != nil {
		return nil, err
	}
	return map[string]any{"path": filepath.Join(run.dir, sc.Path), "thumbnail": filepath.Join(run.dir, sc.Thumbnail), "label": sc.Label}, nil
}

type pressParams struct {
	Key string `json:"key"`
	// Times is how often to press (absent: once).
	Times *int `json:"times"`
}

func apiPress(ctx context.Context, run *runState, p pressParams) (any, error) {
	if p.Key == "" {
		return nil, &APIError{CodeBadParams, `press needs a "key"`}
	}
	times := 1
	if p.Times != nil {
		times = *p.Times
	}
	if times < 1 {
		return nil, &APIError{CodeBadParams, fmt.Sprintf("press(times=%d): times is how often to press the key: give 1 or more", times)}
	}
	for i := 0; i < times; i++ {
		// The script may have ended (a timeout): its call stops with it.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cctx, cancel := deviceCall(ctx)
		err := run.dev.Press(cctx, p.Key)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	run.nav.forget()
	return nil, nil
}

type tapParams struct {
	X int `json:"x"`
	Y int `json:"y"`
}

func apiTap(ctx context.Context, run *runState, p tapParams) (any, error) {
	run.nav.forget()
	cctx, cancel := deviceCall(ctx)
	defer cancel()
	return nil, run.dev.Tap(cctx, p.X, p.Y)
}

type textParams struct {
	Text string `json:"text"`
}

func apiText(ctx context.Context, run *runState, p textParams) (any, error) {
	t, ok := run.dev.(capture.Typer)
	if !ok {
		return nil, fmt.Errorf("text: %w", capture.ErrNotSupported)
	}
	cctx, cancel := deviceCall(ctx)
	defer cancel()
	return nil, t.Text(cctx, p.Text)
}

type swipeParams struct {
	X1 int `json:"x1"`
	Y1 int `json:"y1"`
	X2 int `json:"x2"`
	Y2 int `json:"y2"`
	Ms int `json:"ms"`
}

func apiSwipe(ctx context.Context, run *runState, p swipeParams) (any, error) {
	t, ok := run.dev.(capture.Typer)
	if !ok {
		return nil, fmt.Errorf("swipe: %w", capture.ErrNotSupported)
	}
	run.nav.forget()
	cctx, cancel := deviceCall(ctx)
	defer cancel()
	return nil, t.Swipe(cctx, p.X1, p.Y1, p.X2, p.Y2, time.Duration(p.Ms)*time.Millisecond)
}

// nodeParams names a node of a userinterface; an empty userinterface means
// the one the run was started with.
type nodeParams struct {
	Node          string `json:"node"`
	UserInterface string `json:"userinterface"`
}

func apiGoto(ctx context.Context, run *runState, p nodeParams) (any, error) {
	if p.Node == "" {
		return nil, &APIError{CodeBadParams, `goto needs a "node"`}
	}
	return run.gotoNode(ctx, p.UserInterface, p.Node)
}

type edgeParams struct {
	From          string `json:"from"`
	To            string `json:"to"`
	UserInterface string `json:"userinterface"`
}

func apiEdge(ctx context.Context, run *runState, p edgeParams) (any, error) {
	if p.From == "" || p.To == "" {
		return nil, &APIError{CodeBadParams, `edge needs "from" and "to"`}
	}
	return run.traverseEdge(ctx, p.UserInterface, p.From, p.To)
}

func apiVerify(ctx context.Context, run *runState, p nodeParams) (any, error) {
	return run.verifyNode(ctx, p.UserInterface, p.Node)
}

func apiWhere(_ context.Context, run *runState, _ struct{}) (any, error) {
	return map[string]any{"node": run.nav.where()}, nil
}

type treeParams struct {
	UserInterface string `json:"userinterface"`
}

func apiTree(_ context.Context, run *runState, p treeParams) (any, error) {
	u, err := run.userInterface(p.UserInterface)
	if err != nil {
		return nil, err
	}
	return u, nil
}

type stepParams struct {
	Name    string          `json:"name"`
	Passed  json.RawMessage `json:"passed"`
	Message string          `json:"message"`
	Error   string          `json:"error"`
}

func apiStep(ctx context.Context, run *runState, p stepParams) (any, error) {
	if p.Name == "" {
		return nil, &APIError{CodeBadParams, `step needs a "name"`}
	}
	passed, err := passFailParam("step", p.Passed, true)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	st := store.Step{Name: p.Name, Kind: "step", Status: passFail(passed), Message: p.Message, Error: p.Error,
		StartedAt: now.UTC(), OffsetMs: now.Sub(run.start).Milliseconds()}
	if sc, err := run.screenshotIfAble(ctx, p.Name); err == nil && sc >= 0 {
		st.Screenshots = []int{sc}
	}
	n := run.addStep(st)
	return map[string]any{"number": n}, nil
}

// openStep is a `with vpt.step(...)` block that has not ended.
type openStep struct {
	number int
	start  time.Time
}

type stepStartParams struct {
	Name string `json:"name"`
}

func apiStepStart(ctx context.Context, run *runState, p stepStartParams) (any, error) {
	if p.Name == "" {
		return nil, &APIError{CodeBadParams, `step_start needs a "name"`}
	}
	now := time.Now()
	st := store.Step{Name: p.Name, Kind: "step", Status: store.StatusRunning, StartedAt: now.UTC(), OffsetMs: now.Sub(run.start).Milliseconds()}
	if sc, err := run.screenshotIfAble(ctx, p.Name+" start"); err == nil && sc >= 0 {
		st.Screenshots = append(st.Screenshots, sc)
	}
	// The step takes its number now, so it comes before the steps it holds.
	number := run.addStep(st)
	run.mu.Lock()
	if run.open == nil {
		run.open = map[int]*openStep{}
	}
	run.openN++
	id := run.openN
	run.open[id] = &openStep{number: number, start: now}
	run.mu.Unlock()
	return map[string]any{"step_id": id, "number": number}, nil
}

type stepEndParams struct {
	StepID    int             `json:"step_id"`
	Passed    json.RawMessage `json:"passed"`
	Message   string          `json:"message"`
	Error     string          `json:"error"`
	Traceback string          `json:"traceback"`
}

func apiStepEnd(ctx context.Context, run *runState, p stepEndParams) (any, error) {
	passed, err := passFailParam("step_end", p.Passed, false)
	if err != nil {
		return nil, err
	}
	run.mu.Lock()
	o := run.open[p.StepID]
	delete(run.open, p.StepID)
	run.mu.Unlock()
	if o == nil {
		return nil, &APIError{CodeBadParams, fmt.Sprintf("no open step %d", p.StepID)}
	}
	name := run.stepName(o.number)
	sc, _ := run.screenshotIfAble(ctx, name+" end")
	run.mu.Lock()
	st := &run.steps[o.number-1]
	if sc >= 0 {
		st.Screenshots = append(st.Screenshots, sc)
	}
	st.Status = passFail(passed)
	st.Message, st.Error, st.Traceback = p.Message, p.Error, p.Traceback
	st.DurationMs = time.Since(o.start).Milliseconds()
	ended := stepData(*st)
	run.mu.Unlock()
	run.ev.emit(store.EventRunStep, ended)
	return map[string]any{"number": o.number}, nil
}

func (run *runState) stepName(number int) string {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.steps[number-1].Name
}

// apiMetadata takes any keys, so it decodes its params itself.
func apiMetadata(_ context.Context, run *runState, params json.RawMessage) (any, error) {
	var kv map[string]any
	if err := json.Unmarshal(params, &kv); err != nil {
		return nil, &APIError{CodeBadParams, "metadata takes an object of keys and values"}
	}
	run.mu.Lock()
	if run.meta == nil {
		run.meta = map[string]any{}
	}
	for k, v := range kv {
		run.meta[k] = v
	}
	run.mu.Unlock()
	return nil, nil
}

type summaryParams struct {
	Text   string `json:"text"`
	Append bool   `json:"append"`
}

func apiSummary(_ context.Context, run *runState, p summaryParams) (any, error) {
	run.mu.Lock()
	if p.Append && run.summary != "" {
		run.summary += "\n" + p.Text
	} else {
		run.summary = p.Text
	}
	run.mu.Unlock()
	return nil, nil
}

type failParams struct {
	Reason string `json:"reason"`
}

func apiFail(_ context.Context, run *runState, p failParams) (any, error) {
	f := false
	run.mu.Lock()
	run.verdict = &f
	if run.reason == "" {
		run.reason = p.Reason
	}
	run.mu.Unlock()
	return nil, nil
}

type verdictParams struct {
	Passed json.RawMessage `json:"passed"`
	Reason string          `json:"reason"`
}

func apiVerdict(_ context.Context, run *runState, p verdictParams) (any, error) {
	if len(p.Passed) == 0 {
		return nil, &APIError{CodeBadParams, `verdict needs "passed": true or false`}
	}
	passed, err := passFailParam("verdict", p.Passed, false)
	if err != nil {
		return nil, err
	}
	run.mu.Lock()
	// A failure stays a failure: vpt.fail() earlier is not undone by a
	// later pass.
	if run.verdict == nil || *run.verdict {
		run.verdict = &passed
	}
	if !passed && run.reason == "" {
		run.reason = p.Reason
	}
	run.mu.Unlock()
	return nil, nil
}

// passFailParam reads a "passed" parameter: JSON true or false only, dflt
// when it is left out. A string, number or null is refused: truthiness is
// how a "false" or a 0 would turn into a pass.
func passFailParam(method string, raw json.RawMessage, dflt bool) (bool, error) {
	switch strings.TrimSpace(string(raw)) {
	case "":
		return dflt, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &APIError{CodeBadParams, fmt.Sprintf(`%s: "passed" must be true or false, got %s`, method, raw)}
}

// screenshotIfAble takes a screenshot when the device can and returns its
// index in the run's screenshots (-1 when it cannot).
func (run *runState) screenshotIfAble(ctx context.Context, label string) (int, error) {
	if run.dev == nil || !run.dev.Info().Has(capture.CapScreenshot) {
		return -1, nil
	}
	if _, err := run.screenshot(ctx, label); err != nil {
		run.note("screenshot %q failed: %v", label, err)
		return -1, err
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	return len(run.shotList) - 1, nil
}

func (run *runState) addStep(st store.Step) int {
	run.mu.Lock()
	st.Number = len(run.steps) + 1
	run.steps = append(run.steps, st)
	run.mu.Unlock()
	run.ev.emit(store.EventRunStep, stepData(st))
	return st.Number
}
