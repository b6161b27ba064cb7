// Package ui is the userinterface model: the screens (nodes) of a device's
// user interface and the transitions (edges) between them, read from YAML
// files, with shortest-path planning for navigation.
package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// Errors of userinterfaces.
var (
	// ErrNotFound: no userinterface by that name.
	ErrNotFound = errors.New("userinterface not found")
	// ErrNodeNotFound: no node by that id or label.
	ErrNodeNotFound = errors.New("node not found")
	// ErrUnreachable: no path leads to the node.
	ErrUnreachable = errors.New("node unreachable")
	// ErrInvalid: the file is malformed (the error is a yamlfile.Problems).
	ErrInvalid = errors.New("invalid userinterface")
)

// UI is a userinterface: a graph of screens.
type UI struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Entry is the id of the entry node (the home screen). A node may say
	// entry: true instead.
	Entry string `yaml:"entry" json:"entry"`
	Nodes []Node `yaml:"nodes" json:"nodes"`
	Edges []Edge `yaml:"edges" json:"edges"`
	// Recovery actions bring the device back to the entry node from any
	// screen (press HOME, say). Without them, recovery finds the screen
	// shown by checking every node and walks back from there.
	Recovery []Action `yaml:"recovery" json:"recovery,omitempty"`

	// File is where it was read from ("" for the built-in one); Dir holds
	// its reference images.
	File string `yaml:"-" json:"file,omitempty"`
	Dir  string `yaml:"-" json:"-"`

	byID map[string]int
	out  map[string][]int
	// draft: reference images may be missing (they are being captured);
	// image verifications without their file are left out.
	draft bool
}

// Node is one screen.
type Node struct {
	ID            string         `yaml:"id" json:"id"`
	Label         string         `yaml:"label" json:"label"`
	Entry         bool           `yaml:"entry" json:"entry,omitempty"`
	Verifications []Verification `yaml:"verifications" json:"verifications,omitempty"`
	// Color is the background of the virtual device's rendering (#rrggbb).
	Color string `yaml:"color" json:"color,omitempty"`
	// Picture is how the virtual device's picture behaves on this screen:
	// moving (the default: a clock and an animation change every frame),
	// frozen (the picture stops as it was when the screen appeared) or
	// black.
	Picture string `yaml:"picture" json:"picture,omitempty"`
	// Sound is the virtual device's sound on this screen: tone (the
	// default, a tone of the screen's own frequency at a normal level),
	// silent, or loud (the tone close to full scale).
	Sound string `yaml:"sound" json:"sound,omitempty"`
	// Tone is the frequency of the screen's tone in Hz; by default each
	// screen has its own (see ToneOf).
	Tone float64 `yaml:"tone" json:"tone,omitempty"`
}

// How the virtual device's picture and sound behave on a screen.
const (
	PictureMoving = "moving"
	PictureFrozen = "frozen"
	PictureBlack  = "black"
	SoundTone     = "tone"
	SoundSilent   = "silent"
	SoundLoud     = "loud"
)

var (
	pictures = []string{PictureMoving, PictureFrozen, PictureBlack}
	sounds   = []string{SoundTone, SoundSilent, SoundLoud}
)

// Tones of the screens that set none: the first node's is ToneBase, each
// next one ToneStep higher, so every screen sounds different.
const (
	ToneBase = 400.0
	ToneStep = 50.0
	// MaxTone keeps tones below the Nyquist frequency of 48 kHz sound.
	MaxTone = 20000.0
)

// PictureOf is the node's picture behaviour, moving when it sets none.
func (n *Node) PictureOf() string {
	if n.Picture == "" {
		return PictureMoving
	}
	return n.Picture
}

// SoundOf is the node's sound behaviour, tone when it sets none.
func (n *Node) SoundOf() string {
	if n.Sound == "" {
		return SoundTone
	}
	return n.Sound
}

// ToneOf is the frequency (Hz) of a node's tone: its tone, else ToneBase +
// ToneStep × its position in the file. 0 for an unknown node.
func (u *UI) ToneOf(id string) float64 {
	i, ok := u.byID[id]
	if !ok {
		return 0
	}
	if t := u.Nodes[i].Tone; t > 0 {
		return t
	}
	return ToneBase + ToneStep*float64(i)
}

// Verification is a check that the device shows a node.
type Verification struct {
	// Type: image (a reference image found in the screenshot), text (OCR
	// of a region reads Text), black (the picture or region is black),
	// motion (it moves), audio (sound is heard), or screen (the virtual
	// device's own knowledge of its screen).
	Type string `yaml:"type" json:"type"`
	// Reference is an image file, relative to the userinterface's folder.
	Reference string `yaml:"reference" json:"reference,omitempty"`
	// Region [x, y, width, height] of the screenshot to search; the whole
	// screenshot when empty.
	Region []int `yaml:"region" json:"region,omitempty"`
	// Threshold: for image, the similarity (0..1) the match needs (default
	// 0.9); for audio, the level in dBFS the sound must pass (default -50).
	Threshold float64 `yaml:"threshold" json:"threshold,omitempty"`
	Label     string  `yaml:"label" json:"label,omitempty"`
	// Text (type text) is what the region reads: exactly, case and spaces
	// aside (unless CaseSensitive), or with Regex a regular expression
	// found in it.
	Text          string `yaml:"text" json:"text,omitempty"`
	Regex         bool   `yaml:"regex" json:"regex,omitempty"`
	CaseSensitive bool   `yaml:"case_sensitive" json:"case_sensitive,omitempty"`
	// Timeout (type motion) is how long to watch for motion (default
	// DefaultMotionTimeout); Consecutive how many of the last frames must
	// have moved, "N/M" (default DefaultMotionConsecutive).
	Timeout     time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	Consecutive string        `yaml:"consecutive" json:"consecutive,omitempty"`
	// Duration (type audio) is how long to listen (default
	// DefaultListen).
	Duration time.Duration `yaml:"duration" json:"duration,omitempty"`
}

// Defaults of the verifications that watch or listen: a motion check
// decides in three frames, an audio check in half a second.
const (
	DefaultMotionTimeout     = 2 * time.Second
	DefaultMotionConsecutive = "2/3"
	DefaultListen            = 500 * time.Millisecond
	DefaultAudioThreshold    = -50.0
)

// Verification types.
const (
	VerifyImage  = "image"
	VerifyText   = "text"
	VerifyBlack  = "black"
	VerifyMotion = "motion"
	VerifyAudio  = "audio"
	VerifyScreen = "screen"
)

var verificationTypes = []string{VerifyImage, VerifyText, VerifyBlack, VerifyMotion, VerifyAudio, VerifyScreen}

// NeedsPicture tells whether the verification looks at the screenshot.
func (v Verification) NeedsPicture() bool {
	return v.Type == VerifyImage || v.Type == VerifyText || v.Type == VerifyBlack
}

// DefaultThreshold is the similarity an image verification needs.
const DefaultThreshold = 0.9

// Edge is a transition between two nodes.
type Edge struct {
	From         string   `yaml:"from" json:"from"`
	To           string   `yaml:"to" json:"to"`
	Actions      []Action `yaml:"actions" json:"actions"`
	RetryActions []Action `yaml:"retry_actions" json:"retry_actions,omitempty"`
	// Black is how long the virtual device shows a black, silent picture
	// when it takes this edge, before the new screen appears: a zap's gap.
	Black time.Duration `yaml:"black" json:"black,omitempty"`
	// Banner is text the virtual device shows over the new screen once its
	// picture is back (a channel banner), for BannerFor.
	Banner string `yaml:"banner" json:"banner,omitempty"`
	// BannerFor is how long the banner stays (default DefaultBannerFor).
	BannerFor time.Duration `yaml:"banner_for" json:"banner_for,omitempty"`
}

// DefaultBannerFor is how long an edge's banner stays when it says nothing.
const DefaultBannerFor = 3 * time.Second

// BannerDuration is how long the edge's banner stays: 0 without a banner.
func (e Edge) BannerDuration() time.Duration {
	switch {
	case e.Banner == "":
		return 0
	case e.BannerFor > 0:
		return e.BannerFor
	}
	return DefaultBannerFor
}

// Action is one device action of an edge.
type Action struct {
	// Action: press_key, tap, swipe, text, wait.
	Action string `yaml:"action" json:"action"`
	Key    string `yaml:"key" json:"key,omitempty"`
	X      int    `yaml:"x" json:"x,omitempty"`
	Y      int    `yaml:"y" json:"y,omitempty"`
	X2     int    `yaml:"x2" json:"x2,omitempty"`
	Y2     int    `yaml:"y2" json:"y2,omitempty"`
	Text   string `yaml:"text" json:"text,omitempty"`
	// Wait: how long to wait (the wait action), or after the action.
	Wait time.Duration `yaml:"wait" json:"wait,omitempty"`
	// Repeat the action this many times (default 1).
	Repeat int `yaml:"repeat" json:"repeat,omitempty"`
}

// String renders an action as the report shows it.
func (a Action) String() string {
	var s string
	switch a.Action {
	case "press_key":
		s = "press_key(" + a.Key + ")"
	case "tap":
		s = fmt.Sprintf("tap(%d, %d)", a.X, a.Y)
	case "swipe":
		s = fmt.Sprintf("swipe(%d, %d → %d, %d)", a.X, a.Y, a.X2, a.Y2)
	case "text":
		s = fmt.Sprintf("text(%q)", a.Text)
	case "wait":
		return "wait(" + a.Wait.String() + ")"
	default:
		s = a.Action
	}
	if a.Repeat > 1 {
		s += fmt.Sprintf(" ×%d", a.Repeat)
	}
	if a.Wait > 0 {
		s += " then wait " + a.Wait.String()
	}
	return s
}

// Keys returns the keys an edge's actions press, in order.
func (e Edge) Keys() []string {
	var keys []string
	for _, a := range e.Actions {
		if a.Action != "press_key" {
			continue
		}
		for i := 0; i < max(1, a.Repeat); i++ {
			keys = append(keys, strings.ToUpper(a.Key))
		}
	}
	return keys
}

// Parse reads a userinterface from YAML. Every problem comes back at once
// as yamlfile.Problems (wrapped with ErrInvalid) with file and line.
func Parse(file string, data []byte) (*UI, error) { return parse(file, data, false) }

func parse(file string, data []byte, draft bool) (*UI, error) {
	var u UI
	u.draft = draft
	root, err := yamlfile.Decode(file, data, &u)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	u.File = file
	u.Dir = filepath.Dir(file)
	if u.Name == "" {
		u.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if ps := u.validate(file, root); len(ps) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, ps)
	}
	return &u, nil
}

// Load reads a userinterface file.
func Load(path string) (*UI, error) { return load(path, false) }

func load(path string, draft bool) (*UI, error) {
	data, err := yamlfile.ReadFile(path)
	if err != nil {
		var ps yamlfile.Problems
		if errors.As(err, &ps) {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return nil, err
	}
	u, err := parse(path, data, draft)
	if err == nil && draft {
		u.dropMissingReferences()
	}
	return u, err
}

// dropMissingReferences leaves out image verifications whose reference
// file does not exist yet.
func (u *UI) dropMissingReferences() {
	for i := range u.Nodes {
		var keep []Verification
		for _, v := range u.Nodes[i].Verifications {
			if v.Type == VerifyImage {
				if _, err := os.Stat(u.RefPath(v.Reference)); err != nil {
					continue
				}
			}
			keep = append(keep, v)
		}
		u.Nodes[i].Verifications = keep
	}
}

var knownActions = []string{"press_key", "tap", "swipe", "text", "wait"}

func (u *UI) validate(file string, root *yaml.Node) yamlfile.Problems {
	var ps yamlfile.Problems
	at := func(field, msg, hint string, path ...any) {
		ps = append(ps, yamlfile.At(file, root, field, msg, hint, path...))
	}
	if len(u.Nodes) == 0 {
		at("nodes", "a userinterface needs at least one node", "", "nodes")
	}
	u.byID = map[string]int{}
	entries := 0
	for i, n := range u.Nodes {
		field := fmt.Sprintf("nodes[%d]", i)
		switch {
		case n.ID == "":
			at(field+".id", "missing", "every node needs an id", "nodes", i)
			continue
		case strings.ContainsAny(n.ID, " \t/"):
			at(field+".id", fmt.Sprintf("%q: ids cannot hold spaces or '/'", n.ID), "", "nodes", i, "id")
		}
		if _, dup := u.byID[n.ID]; dup {
			at(field+".id", fmt.Sprintf("node %q is defined twice", n.ID), "", "nodes", i, "id")
			continue
		}
		u.byID[n.ID] = i
		if n.Label == "" {
			u.Nodes[i].Label = n.ID
		}
		if n.Entry {
			entries++
			if u.Entry == "" {
				u.Entry = n.ID
			}
		}
		for j, v := range n.Verifications {
			u.validateVerification(v, n.ID, func(key string, atKey bool, msg, hint string) {
				path := []any{"nodes", i, "verifications", j}
				if atKey {
					path = append(path, key)
				}
				at(fmt.Sprintf("%s.verifications[%d].%s", field, j, key), msg, hint, path...)
			})
		}
		oneOf := func(key, kind, value string, allowed []string) {
			if value != "" && !slices.Contains(allowed, value) {
				at(field+"."+key, fmt.Sprintf("unknown %s %q", kind, value), choiceHint(value, allowed), "nodes", i, key)
			}
		}
		oneOf("picture", "picture", n.Picture, pictures)
		oneOf("sound", "sound", n.Sound, sounds)
		if n.Tone < 0 || n.Tone > MaxTone || n.Tone > 0 && n.Tone < 20 {
			at(field+".tone", fmt.Sprintf("tone %g Hz is not between 20 and %g", n.Tone, MaxTone), "", "nodes", i, "tone")
		}
	}
	if entries > 1 {
		at("nodes", "more than one node says entry: true", "", "nodes")
	}
	if u.Entry == "" && len(u.Nodes) > 0 {
		u.Entry = u.Nodes[0].ID
	} else if _, ok := u.byID[u.Entry]; !ok && len(u.Nodes) > 0 {
		at("entry", fmt.Sprintf("entry node %q is not a node", u.Entry), u.nodeHint(u.Entry), "entry")
	}
	u.out = map[string][]int{}
	for i, e := range u.Edges {
		field := fmt.Sprintf("edges[%d]", i)
		for _, end := range []struct{ key, id string }{{"from", e.From}, {"to", e.To}} {
			if end.id == "" {
				at(field+"."+end.key, "missing", "", "edges", i)
			} else if _, ok := u.byID[end.id]; !ok {
				at(field+"."+end.key, fmt.Sprintf("node %q does not exist", end.id), u.nodeHint(end.id), "edges", i, end.key)
			}
		}
		if len(e.Actions) == 0 {
			at(field+".actions", "an edge needs at least one action", "", "edges", i)
		}
		if e.Black < 0 {
			at(field+".black", fmt.Sprintf("black %s is negative", e.Black), "use a duration such as 500ms", "edges", i, "black")
		}
		if e.BannerFor < 0 {
			at(field+".banner_for", fmt.Sprintf("banner_for %s is negative", e.BannerFor), "use a duration such as 3s", "edges", i, "banner_for")
		} else if e.BannerFor > 0 && e.Banner == "" {
			at(field+".banner_for", "banner_for without a banner", "add banner: TEXT, or remove banner_for", "edges", i, "banner_for")
		}
		for _, list := range []struct {
			key     string
			actions []Action
		}{{"actions", e.Actions}, {"retry_actions", e.RetryActions}} {
			for j, a := range list.actions {
				af := fmt.Sprintf("%s.%s[%d]", field, list.key, j)
				path := []any{"edges", i, list.key, j}
				switch a.Action {
				case "press_key":
					if a.Key == "" {
						at(af+".key", "press_key needs a key", "", path...)
					}
				case "text":
					if a.Text == "" {
						at(af+".text", "text needs the text to type", "", path...)
					}
				case "wait":
					if a.Wait <= 0 {
						at(af+".wait", "wait needs a duration such as 500ms", "", path...)
					}
				case "tap", "swipe":
				case "":
					at(af+".action", "missing", "use one of "+strings.Join(knownActions, ", "), path...)
				default:
					at(af+".action", fmt.Sprintf("unknown action %q", a.Action), "use one of "+strings.Join(knownActions, ", "), append(path, "action")...)
				}
				if a.Repeat < 0 {
					at(af+".repeat", "repeat cannot be negative", "", path...)
				}
			}
		}
		u.out[e.From] = append(u.out[e.From], i)
	}
	for j, a := range u.Recovery {
		if a.Action == "" || !slices.Contains(knownActions, a.Action) {
			at(fmt.Sprintf("recovery[%d].action", j), fmt.Sprintf("unknown action %q", a.Action), "use one of "+strings.Join(knownActions, ", "), "recovery", j)
		}
	}
	return ps
}

// validateVerification reports every problem of one verification: key is
// the field at fault, atKey whether the file has it (else the problem is
// the verification's own line).
func (u *UI) validateVerification(v Verification, node string, bad func(key string, atKey bool, msg, hint string)) {
	switch v.Type {
	case "":
		bad("type", false, "missing", "use "+strings.Join(verificationTypes, ", "))
		return
	case VerifyImage:
		if v.Reference == "" {
			bad("reference", false, "an image verification needs a reference image", "")
		} else if _, err := os.Stat(u.RefPath(v.Reference)); err != nil && u.File != "" && !u.draft {
			bad("reference", true, fmt.Sprintf("reference image %s not found", u.RefPath(v.Reference)),
				"capture it with: vpt ui reference "+node+" --device DEVICE")
		}
		if v.Threshold < 0 || v.Threshold > 1 {
			bad("threshold", true, fmt.Sprintf("threshold %g is not between 0 and 1", v.Threshold), "")
		}
	case VerifyText:
		if strings.TrimSpace(v.Text) == "" {
			bad("text", false, "a text verification needs the text the region reads", "add text: LABEL (regex: true for a regular expression)")
		} else if v.Regex {
			if _, err := regexp.Compile(v.Text); err != nil {
				bad("text", true, fmt.Sprintf("%q is not a regular expression: %v", v.Text, err), "")
			}
		}
	case VerifyAudio:
		if v.Threshold > 0 {
			bad("threshold", true, fmt.Sprintf("threshold %g dBFS must be below 0", v.Threshold), "such as -50")
		}
		if v.Duration < 0 {
			bad("duration", true, fmt.Sprintf("duration %s is negative", v.Duration), "such as 500ms")
		}
	case VerifyMotion:
		if v.Timeout < 0 {
			bad("timeout", true, fmt.Sprintf("timeout %s is negative", v.Timeout), "such as 2s")
		}
		if v.Consecutive != "" && !validConsecutive(v.Consecutive) {
			bad("consecutive", true, fmt.Sprintf("%q is not N/M with 1 <= N <= M <= 1000", v.Consecutive), "such as 2/3 (2 of the last 3 frames moved)")
		}
	case VerifyBlack, VerifyScreen:
	default:
		bad("type", true, fmt.Sprintf("unknown verification type %q", v.Type), choiceHint(v.Type, verificationTypes))
		return
	}
	if len(v.Region) != 0 && (len(v.Region) != 4 || v.Region[2] <= 0 || v.Region[3] <= 0 || v.Region[0] < 0 || v.Region[1] < 0) {
		bad("region", true, "region is [x, y, width, height] with a positive width and height", "")
	}
	only := []struct {
		set   bool
		key   string
		types []string
	}{
		{v.Reference != "" && v.Type != VerifyImage, "reference", []string{VerifyImage}},
		{v.Threshold != 0 && v.Type != VerifyImage && v.Type != VerifyAudio, "threshold", []string{VerifyImage, VerifyAudio}},
		{v.Text != "" && v.Type != VerifyText, "text", []string{VerifyText}},
		{v.Regex && v.Type != VerifyText, "regex", []string{VerifyText}},
		{v.CaseSensitive && v.Type != VerifyText, "case_sensitive", []string{VerifyText}},
		{v.Timeout != 0 && v.Type != VerifyMotion, "timeout", []string{VerifyMotion}},
		{v.Consecutive != "" && v.Type != VerifyMotion, "consecutive", []string{VerifyMotion}},
		{v.Duration != 0 && v.Type != VerifyAudio, "duration", []string{VerifyAudio}},
		{len(v.Region) != 0 && (v.Type == VerifyAudio || v.Type == VerifyScreen), "region", []string{VerifyImage, VerifyText, VerifyBlack, VerifyMotion}},
	}
	for _, o := range only {
		if o.set {
			bad(o.key, true, fmt.Sprintf("%s is not used by %s verifications", o.key, v.Type), "it belongs to "+strings.Join(o.types, ", ")+" verifications")
		}
	}
}

// validConsecutive checks "N/M" or "N" as capture/picture reads it.
func validConsecutive(s string) bool {
	ns, ms, hasM := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	m := n
	if err == nil && hasM {
		m, err = strconv.Atoi(strings.TrimSpace(ms))
	}
	return err == nil && n >= 1 && m >= n && m <= 1000
}

// choiceHint lists the allowed values, the closest one first.
func choiceHint(got string, allowed []string) string {
	hint := "use " + strings.Join(allowed, ", ")
	if near := yamlfile.Closest(got, allowed, 1); len(near) > 0 {
		hint = "did you mean " + near[0] + "? " + hint
	}
	return hint
}

func (u *UI) nodeHint(id string) string {
	if near := closestID(id, u.NodeIDs()); near != "" {
		return "did you mean " + near + "?"
	}
	return ""
}

// RefPath resolves a reference image path relative to the userinterface.
func (u *UI) RefPath(ref string) string {
	if filepath.IsAbs(ref) || u.Dir == "" {
		return ref
	}
	return filepath.Join(u.Dir, ref)
}

// NodeIDs lists node ids in file order.
func (u *UI) NodeIDs() []string {
	ids := make([]string, len(u.Nodes))
	for i, n := range u.Nodes {
		ids[i] = n.ID
	}
	return ids
}

// Node finds a node by id, or by label (case-insensitive) as upstream does.
func (u *UI) Node(idOrLabel string) (*Node, error) {
	if i, ok := u.byID[idOrLabel]; ok {
		return &u.Nodes[i], nil
	}
	for i, n := range u.Nodes {
		if strings.EqualFold(n.Label, idOrLabel) || strings.EqualFold(n.ID, idOrLabel) {
			return &u.Nodes[i], nil
		}
	}
	return nil, &NodeError{Err: ErrNodeNotFound, Node: idOrLabel, UI: u.Name, Available: u.NodeIDs()}
}

// NodeError names a node problem and the nodes that exist.
type NodeError struct {
	Err       error
	Node, UI  string
	From      string
	Available []string
}

func (e *NodeError) Error() string {
	if errors.Is(e.Err, ErrUnreachable) {
		return fmt.Sprintf("Node '%s' is not reachable from '%s' in '%s'", e.Node, e.From, e.UI)
	}
	return fmt.Sprintf("Node '%s' not found in '%s'. Available: %s", e.Node, e.UI, strings.Join(e.Available, ", "))
}

// Unwrap returns the sentinel.
func (e *NodeError) Unwrap() error { return e.Err }

// Out returns the edges leaving a node.
func (u *UI) Out(id string) []Edge {
	var out []Edge
	for _, i := range u.out[id] {
		out = append(out, u.Edges[i])
	}
	return out
}

// Path returns the shortest path (fewest edges) from one node to another;
// an empty path when they are the same node.
func (u *UI) Path(from, to string) ([]Edge, error) {
	if _, ok := u.byID[to]; !ok {
		return nil, &NodeError{Err: ErrNodeNotFound, Node: to, UI: u.Name, Available: u.NodeIDs()}
	}
	if _, ok := u.byID[from]; !ok {
		return nil, &NodeError{Err: ErrNodeNotFound, Node: from, UI: u.Name, Available: u.NodeIDs()}
	}
	if from == to {
		return nil, nil
	}
	prev := map[string]int{from: -1}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, ei := range u.out[cur] {
			next := u.Edges[ei].To
			if _, seen := prev[next]; seen {
				continue
			}
			prev[next] = ei
			if next == to {
				var path []Edge
				for n := to; prev[n] >= 0; n = u.Edges[prev[n]].From {
					path = append(path, u.Edges[prev[n]])
				}
				for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path, nil
			}
			queue = append(queue, next)
		}
	}
	return nil, &NodeError{Err: ErrUnreachable, Node: to, From: from, UI: u.Name}
}

// Unreachable lists nodes no path from the entry node reaches.
func (u *UI) Unreachable() []string {
	seen := map[string]bool{u.Entry: true}
	queue := []string{u.Entry}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, ei := range u.out[cur] {
			if next := u.Edges[ei].To; !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	var out []string
	for _, n := range u.Nodes {
		if !seen[n.ID] {
			out = append(out, n.ID)
		}
	}
	return out
}

// Library finds userinterfaces in a folder: NAME.yaml or NAME.yml, plus
// the built-in one.
type Library struct {
	Dir string
}

// Names lists the userinterfaces available, sorted, the built-in one
// included.
func (l Library) Names() []string {
	names := map[string]bool{BuiltinName: true}
	entries, _ := os.ReadDir(l.Dir)
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			names[strings.TrimSuffix(e.Name(), ext)] = true
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Find loads a userinterface by name. "" is the built-in one.
func (l Library) Find(name string) (*UI, error) { return l.find(name, false) }

// FindDraft loads a userinterface whose reference images are still being
// captured: verifications without their image are left out.
func (l Library) FindDraft(name string) (*UI, error) { return l.find(name, true) }

func (l Library) find(name string, draft bool) (*UI, error) {
	if name == "" {
		return Builtin(), nil
	}
	// A userinterface is a file of the folder itself: "../vpt" named
	// vpt.yaml beside it.
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return nil, &NotFoundError{Name: name, Available: l.Names(), Dir: l.Dir}
	}
	for _, ext := range []string{".yaml", ".yml"} {
		p := filepath.Join(l.Dir, name+ext)
		if _, err := os.Stat(p); err == nil {
			return load(p, draft)
		}
	}
	if name == BuiltinName {
		return Builtin(), nil
	}
	return nil, &NotFoundError{Name: name, Available: l.Names(), Dir: l.Dir}
}

// NotFoundError names the userinterfaces that exist.
type NotFoundError struct {
	Name      string
	Dir       string
	Available []string
}

func (e *NotFoundError) Error() string {
	quoted := make([]string, len(e.Available))
	for i, a := range e.Available {
		quoted[i] = "'" + a + "'"
	}
	return fmt.Sprintf("User interface '%s' not found. Available: [%s]", e.Name, strings.Join(quoted, ", "))
}

// Unwrap returns ErrNotFound.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// HintText says where userinterfaces live.
func (e *NotFoundError) HintText() string {
	abs, _ := filepath.Abs(e.Dir)
	return fmt.Sprintf("userinterfaces are YAML files in %s (userinterfaces_dir); list them with: vpt ui list", abs)
}

func closestID(want string, ids []string) string {
	if near := yamlfile.Closest(want, ids, 1); len(near) > 0 {
		return near[0]
	}
	return ""
}
