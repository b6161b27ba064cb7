package ui

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuiltin(t *testing.T) {
	u := Builtin()
	if u.Entry != "home" || len(u.Unreachable()) != 0 {
		t.Fatalf("entry %q unreachable %v", u.Entry, u.Unreachable())
	}
	path, err := u.Path("live_info", "settings_about")
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	for _, e := range path {
		hops = append(hops, e.From+">"+e.To)
	}
	if got := strings.Join(hops, " "); got != "live_info>live live>home home>settings settings>settings_about" {
		t.Fatalf("path %s", got)
	}
	if n, err := u.Node("live tv"); err != nil || n.ID != "live" {
		t.Fatalf("by label: %v %v", n, err)
	}
	if _, err := u.Node("nowhere"); !errors.Is(err, ErrNodeNotFound) || !strings.Contains(err.Error(), "Node 'nowhere' not found in 'virtual_tv'. Available: home, live") {
		t.Fatalf("missing node: %v", err)
	}
}

func TestParseProblems(t *testing.T) {
	src := `name: broken
entry: hom
nodes:
  - id: home
    verifications:
      - {type: image}
      - {type: smell}
  - id: home
  - {id: live, colour: red}
edges:
  - from: home
    to: liv
    actions: [{action: press_key}]
  - {from: live, to: home, actions: [{action: jump}]}
  - {from: live, to: home, actions: []}
`
	_, err := Parse("ui/broken.yaml", []byte(src))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
	// Unknown keys are reported first (with the closest key), alone.
	if !strings.Contains(err.Error(), "ui/broken.yaml:9:16: nodes[2].colour: unknown key (did you mean color?)") {
		t.Fatalf("unknown key:\n%v", err)
	}
	src = strings.Replace(src, "colour", "color", 1)
	_, err = Parse("ui/broken.yaml", []byte(src))
	for _, want := range []string{
		"ui/broken.yaml:6:9: nodes[0].verifications[0].reference: an image verification needs a reference image",
		"ui/broken.yaml:7:16: nodes[0].verifications[1].type: unknown verification type \"smell\"",
		"ui/broken.yaml:8:9: nodes[1].id: node \"home\" is defined twice",
		"ui/broken.yaml:2:8: entry: entry node \"hom\" is not a node (did you mean home?)",
		"ui/broken.yaml:12:9: edges[0].to: node \"liv\" does not exist (did you mean live?)",
		"ui/broken.yaml:13:15: edges[0].actions[0].key: press_key needs a key",
		"edges[1].actions[0].action: unknown action \"jump\"",
		"edges[2].actions: an edge needs at least one action",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestUnreachableAndLibrary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "island.yaml"), []byte(`nodes: [{id: a}, {id: b}, {id: c}]
edges: [{from: a, to: b, actions: [{action: press_key, key: OK}]}, {from: c, to: a, actions: [{action: press_key, key: BACK}]}]
`), 0o644)
	lib := Library{Dir: dir}
	u, err := lib.Find("island")
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Unreachable(); len(got) != 1 || got[0] != "c" {
		t.Fatalf("unreachable %v", got)
	}
	if _, err := u.Path("a", "c"); !errors.Is(err, ErrUnreachable) || err.Error() != "Node 'c' is not reachable from 'a' in 'island'" {
		t.Fatalf("path to c: %v", err)
	}
	_, err = lib.Find("horizon")
	if !errors.Is(err, ErrNotFound) || err.Error() != "User interface 'horizon' not found. Available: ['island', 'virtual_tv']" {
		t.Fatalf("missing: %v", err)
	}
	if names := lib.Names(); strings.Join(names, ",") != "island,virtual_tv" {
		t.Fatalf("names %v", names)
	}
}

func TestScreenBehaviour(t *testing.T) {
	src := `nodes:
  - {id: live, picture: frozen, sound: loud}
  - {id: guide, tone: 1000}
  - {id: home}
edges:
  - {from: live, to: live, actions: [{action: press_key, key: CH_UP}], black: 600ms, banner: "2 BBC Two"}
  - {from: live, to: guide, actions: [{action: press_key, key: GUIDE}], banner: Guide, banner_for: 1s}
`
	u, err := Parse("ui/zap.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	live, _ := u.Node("live")
	home, _ := u.Node("home")
	if live.PictureOf() != PictureFrozen || live.SoundOf() != SoundLoud || home.PictureOf() != PictureMoving || home.SoundOf() != SoundTone {
		t.Fatalf("behaviours: %+v %+v", live, home)
	}
	if got := []float64{u.ToneOf("live"), u.ToneOf("guide"), u.ToneOf("home"), u.ToneOf("nowhere")}; got[0] != ToneBase || got[1] != 1000 || got[2] != ToneBase+2*ToneStep || got[3] != 0 {
		t.Fatalf("tones %v", got)
	}
	if e := u.Edges[0]; e.Black.Milliseconds() != 600 || e.BannerDuration() != DefaultBannerFor {
		t.Fatalf("zap edge %+v", e)
	}
	if u.Edges[1].BannerDuration().Seconds() != 1 {
		t.Fatalf("banner_for %v", u.Edges[1].BannerDuration())
	}
	// A self-loop (a zap on the same screen) is never a step of a path.
	if p, err := u.Path("live", "guide"); err != nil || len(p) != 1 || p[0].To != "guide" {
		t.Fatalf("path %v %v", p, err)
	}

	bad := `nodes:
  - {id: a, picture: blak, sound: mute, tone: 30000}
  - {id: b, tone: -5}
edges:
  - {from: a, to: b, actions: [{action: press_key, key: OK}], black: -1s, banner_for: 2s}
  - {from: b, to: a, actions: [{action: press_key, key: OK}], banner: x, banner_for: -2s}
`
	_, err = Parse("ui/bad.yaml", []byte(bad))
	for _, want := range []string{
		`ui/bad.yaml:2:22: nodes[0].picture: unknown picture "blak" (did you mean black? use moving, frozen, black)`,
		`ui/bad.yaml:2:35: nodes[0].sound: unknown sound "mute" (use tone, silent, loud)`,
		`ui/bad.yaml:2:47: nodes[0].tone: tone 30000 Hz is not between 20 and 20000`,
		`ui/bad.yaml:3:19: nodes[1].tone: tone -5 Hz is not between 20 and 20000`,
		`ui/bad.yaml:5:70: edges[0].black: black -1s is negative (use a duration such as 500ms)`,
		`ui/bad.yaml:5:87: edges[0].banner_for: banner_for without a banner (add banner: TEXT, or remove banner_for)`,
		`ui/bad.yaml:6:86: edges[1].banner_for: banner_for -2s is negative`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// A wrongly typed duration is a decoding problem with its line.
	_, err = Parse("ui/bad.yaml", []byte("nodes: [{id: a}]\nedges:\n  - {from: a, to: a, actions: [{action: press_key, key: OK}], black: long}\n"))
	if err == nil || !strings.Contains(err.Error(), `ui/bad.yaml:3:70: edges[0].black: expected a duration such as 30s or 5m, got "long"`) {
		t.Fatalf("typed duration: %v", err)
	}
}

// Verifications by text, black, motion and audio: valid ones parse, and
// every mistake is reported with its file, line and field.
func TestVerificationTypes(t *testing.T) {
	good := `nodes:
  - id: live
    verifications:
      - {type: text, text: Live TV, region: [0, 0, 700, 120]}
      - {type: text, text: "^Live", regex: true, case_sensitive: true}
      - {type: motion, region: [800, 250, 420, 236], timeout: 1s, consecutive: 3/5}
      - {type: audio, threshold: -40, duration: 300ms}
  - id: gap
    verifications: [{type: black}]
`
	u, err := Parse("ui/good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if v := u.Nodes[0].Verifications; v[0].Text != "Live TV" || !v[1].Regex || v[2].Timeout != time.Second || v[3].Threshold != -40 ||
		!v[0].NeedsPicture() || v[2].NeedsPicture() || !u.Nodes[1].Verifications[0].NeedsPicture() {
		t.Fatalf("verifications %+v", v)
	}
	bad := `nodes:
  - id: live
    verifications:
      - {type: text}
      - {type: text, text: "(", regex: true}
      - {type: motion, consecutive: 5/3, timeout: -1s}
      - {type: audio, threshold: 3, region: [0, 0, 10, 10]}
      - {type: black, reference: live.png, text: Live}
      - {type: moving}
`
	_, err = Parse("ui/bad.yaml", []byte(bad))
	for _, want := range []string{
		"ui/bad.yaml:4:9: nodes[0].verifications[0].text: a text verification needs the text the region reads",
		"ui/bad.yaml:5:28: nodes[0].verifications[1].text: \"(\" is not a regular expression",
		"nodes[0].verifications[2].timeout: timeout -1s is negative",
		"ui/bad.yaml:6:37: nodes[0].verifications[2].consecutive: \"5/3\" is not N/M",
		"ui/bad.yaml:7:34: nodes[0].verifications[3].threshold: threshold 3 dBFS must be below 0",
		"nodes[0].verifications[3].region: region is not used by audio verifications",
		"nodes[0].verifications[4].reference: reference is not used by black verifications",
		"nodes[0].verifications[4].text: text is not used by black verifications",
		"nodes[0].verifications[5].type: unknown verification type \"moving\" (use image, text, black, motion, audio, screen)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
