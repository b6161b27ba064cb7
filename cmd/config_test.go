package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
)

func flagsFor(t *testing.T, args ...string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.Duration("timeout", 0, "")
	fs.String("video", "", "")
	fs.String("results-dir", "", "")
	fs.String("store", "", "")
	fs.Bool("upload", false, "")
	fs.String("python", "", "")
	fs.Duration("grace", 0, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// Precedence: flag > VPT_* environment > vpt.yaml > default.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("vpt.yaml", []byte("timeout: 5m\nresults_dir: from-file\nvideo: {mode: \"off\"}\ngrace: 3s\n"), 0o644)
	env := []string{"VPT_TIMEOUT=7m", "VPT_VIDEO_MODE=retain-on-failure", "TEAM_ID=team-env", "HOST_NAME=lab-9"}
	cfg, err := loadConfig("", flagsFor(t, "--timeout", "9m"), flagKeys, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 9*time.Minute || cfg.Video.Mode != "retain-on-failure" || cfg.ResultsDir != "from-file" ||
		cfg.Grace != 3*time.Second || cfg.Video.Quality != "copy" || cfg.TeamID != "team-env" || cfg.HostName != "lab-9" {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.Store != "sqlite://"+filepath.Join("from-file", "vpt.db") || cfg.ProjectRoot != dir {
		t.Fatalf("store %q root %q", cfg.Store, cfg.ProjectRoot)
	}
	// VPT_TEAM_ID wins over upstream's TEAM_ID.
	cfg, _ = loadConfig("", flagsFor(t), flagKeys, append(env, "VPT_TEAM_ID=vpt-team"))
	if cfg.TeamID != "vpt-team" {
		t.Fatalf("team %q", cfg.TeamID)
	}
}

func TestUpstreamVariables(t *testing.T) {
	t.Chdir(t.TempDir())
	env := []string{"CLOUDFLARE_R2_ENDPOINT=https://acct.r2.cloudflarestorage.com", "CLOUDFLARE_R2_ACCESS_KEY_ID=ak",
		"CLOUDFLARE_R2_SECRET_ACCESS_KEY=sk", "CLOUDFLARE_R2_PUBLIC_URL=https://pub.r2.dev",
		"DEVICE1_NAME=Box", "DEVICE1_MODEL=stb", "DEVICE1_VIDEO=/dev/video0", "DEVICE1_IR_PATH=/dev/lirc0", "DEVICE1_IR_TYPE=samsung",
		"DEVICE2_NAME=Phone", "DEVICE2_MODEL=android_mobile", "DEVICE2_IP=10.0.0.5", "DEVICE2_PORT=5037"}
	cfg, err := loadConfig("", flagsFor(t), flagKeys, env)
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upload
	if u.Endpoint != "https://acct.r2.cloudflarestorage.com" || u.AccessKeyID != "ak" || u.SecretAccessKey != "sk" || u.PublicURL != "https://pub.r2.dev" {
		t.Fatalf("upload %+v", u)
	}
	if len(cfg.Devices) != 2 || cfg.Devices[0].IR.Keymap != "samsung" || cfg.Devices[1].ADB != "10.0.0.5:5037" {
		t.Fatalf("devices %+v", cfg.Devices)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("vpt.yaml", []byte("video: {mode: sometimes}\n"), 0o644)
	_, err := loadConfig("", flagsFor(t), flagKeys, nil)
	var ce *configError
	if !errors.As(err, &ce) || ExitCode(err) != ExitUsage {
		t.Fatalf("bad mode: %v", err)
	}
	if _, err := loadConfig("missing.yaml", flagsFor(t), flagKeys, nil); ExitCode(err) != ExitUsage {
		t.Fatalf("missing --config: %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		nil:                                     ExitOK,
		runVerdict{store.StatusTimeout}:         ExitTimeout,
		campaignVerdict{campaign.VerdictFailed}: ExitFailed,
		fmt.Errorf("%w: %w", store.ErrUnavailable, context.Canceled): ExitInterrupted,
		executor.ErrScriptNotFound:                                   ExitUsage,
		&capture.UnknownDeviceError{ID: "x"}:                         ExitUsage,
		capture.ErrUnreachable:                                       ExitInfra,
		store.ErrUnavailable:                                         ExitInfra,
		errors.New("something unforeseen"):                           ExitInfra,
		&usageError{msg: "bad"}:                                      ExitUsage,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
	for s, want := range map[store.Status]int{store.StatusPassed: 0, store.StatusFailed: 1, store.StatusTimeout: 4,
		store.StatusInterrupted: 130, store.StatusError: 3, store.StatusAbandoned: 3} {
		if got := statusCode(s); got != want {
			t.Errorf("%s: %d", s, got)
		}
	}
}

// The device list decodes by the names vpt.yaml uses, underscores and
// nested sections included (capture's types carry no tag of viper's).
func TestDevicesDecode(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("vpt.yaml", []byte(`devices:
  - {id: stb1, name: Lab STB, model: stb, video: /dev/video0, ir: {keymap: eos, tool: irsend, remote: eos2}}
  - {id: slow, model: virtual, key_latency: 250ms, drop_rate: 0.25, seed: 7}
  - {id: tv, model: android_tv, adb: "10.0.0.5:5555", screenrecord_limit: 170s, userinterface: horizon_tv}
upload: {path_style: true, access_key_id: AKIA0000}
tools: {ir_ctl: /opt/ir-ctl}
`), 0o644)
	cfg, err := loadConfig("", flagsFor(t), flagKeys, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []capture.DeviceConfig{
		{ID: "stb1", Name: "Lab STB", Model: "stb", Video: "/dev/video0", IR: capture.IRConfig{Keymap: "eos", Tool: "irsend", Remote: "eos2"}},
		{ID: "slow", Model: "virtual", KeyLatency: 250 * time.Millisecond, DropRate: 0.25, Seed: 7},
		{ID: "tv", Model: "android_tv", ADB: "10.0.0.5:5555", ScreenrecordLimit: 170 * time.Second, UserInterface: "horizon_tv"},
	}
	if fmt.Sprint(cfg.Devices) != fmt.Sprint(want) {
		t.Fatalf("devices %+v\nwant    %+v", cfg.Devices, want)
	}
	if !cfg.Upload.PathStyle || cfg.Upload.AccessKeyID != "AKIA0000" || cfg.Tools.IRCtl != "/opt/ir-ctl" {
		t.Fatalf("upload %+v tools %+v", cfg.Upload, cfg.Tools)
	}
}
