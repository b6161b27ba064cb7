package cmd

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/avcheck"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/yamlfile"
	"github.com/vpt-dev/vpt/report/upload"
	"github.com/vpt-dev/vpt/store"
)

// DefaultTeamID is upstream's default team.
const DefaultTeamID = "7fdeb4bb-3639-4ec3-959f-b54769a219ce"

// Config is vpt's configuration, decoded once from defaults, vpt.yaml,
// VPT_* variables and flags (in that order of precedence, flags last), by
// the yaml tags of its fields. Only this package knows viper; everything
// else gets this struct.
type Config struct {
	TeamID            string                 `yaml:"team_id"`
	ScriptsDir        string                 `yaml:"scripts_dir"`
	UserInterfacesDir string                 `yaml:"userinterfaces_dir"`
	ResultsDir        string                 `yaml:"results_dir"`
	Store             string                 `yaml:"store"`
	Python            string                 `yaml:"python"`
	AIExecutor        string                 `yaml:"ai_executor"`
	Timeout           time.Duration          `yaml:"timeout"`
	Grace             time.Duration          `yaml:"grace"`
	Devices           []capture.DeviceConfig `yaml:"devices"`
	Video             VideoConfig            `yaml:"video"`
	Screenshots       ShotConfig             `yaml:"screenshots"`
	Upload            UploadConfig           `yaml:"upload"`
	Tools             ToolsConfig            `yaml:"tools"`
	AV                AVConfig               `yaml:"av"`
	OCR               OCRConfig              `yaml:"ocr"`
	HostName          string                 `yaml:"host_name"`
	ProjectRoot       string                 `yaml:"project_root"`
	KeymapsDir        string                 `yaml:"keymaps_dir"`
	// LockDir holds the device locks of this machine ("" for the default).
	LockDir string `yaml:"lock_dir"`
	// EnvPassthrough names variables holding vpt's own secrets that
	// scripts get anyway (they stay masked in what a run records).
	EnvPassthrough []string `yaml:"env_passthrough"`
	// Events: runs and campaigns append to the store's event log (vpt
	// events, vpt report serve); false leaves it alone.
	Events bool         `yaml:"events"`
	Notify NotifyConfig `yaml:"notify"`

	// File is the vpt.yaml in use ("" when none).
	File string `yaml:"-"`
	// PythonSet: the interpreter was chosen (not the default).
	PythonSet bool `yaml:"-"`
	// EnvNotes are what was left out of upstream's DEVICE{i}_* variables.
	EnvNotes []capture.EnvNote `yaml:"-"`
	// set tells which keys the file, a VPT_* variable or a flag set.
	set map[string]bool
	// where tells where each key was set, for the errors found later.
	where origin
	// Layers says where the configuration came from, for vpt -vv.
	Layers []string `yaml:"-"`
}

// VideoConfig is the `video:` section.
type VideoConfig struct {
	Mode    string `yaml:"mode"`    // on, off, retain-on-failure
	Quality string `yaml:"quality"` // copy, low, medium, high
	FPS     int    `yaml:"fps"`
	Segment int    `yaml:"segment"` // seconds per HLS segment
}

// ShotConfig is the `screenshots:` section.
type ShotConfig struct {
	Format  string `yaml:"format"` // png, jpeg
	Quality int    `yaml:"quality"`
	// Auto takes the initial and final screenshot of every run.
	Auto bool `yaml:"auto"`
}

// UploadConfig is the `upload:` section.
type UploadConfig struct {
	Enabled         bool          `yaml:"enabled"`
	Endpoint        string        `yaml:"endpoint"`
	Bucket          string        `yaml:"bucket"`
	PublicURL       string        `yaml:"public_url"`
	Presign         time.Duration `yaml:"presign"`
	Region          string        `yaml:"region"`
	AccessKeyID     string        `yaml:"access_key_id"`
	SecretAccessKey string        `yaml:"secret_access_key"`
	Concurrency     int           `yaml:"concurrency"`
	PathStyle       bool          `yaml:"path_style"`
	Prefix          string        `yaml:"prefix"`
	// Timeout bounds one run's upload (and one campaign report's).
	Timeout time.Duration `yaml:"timeout"`
}

// NotifyConfig is the `notify:` section: webhooks told of finished runs
// and campaigns (--notify, --notify-on win over it).
type NotifyConfig struct {
	URLs []string `yaml:"urls"`
	// On: failure (only runs and campaigns that did not pass) or always.
	On string `yaml:"on"`
	// BaseURL is where vpt report serve is reached, for links in the
	// message ("" for links to the report files).
	BaseURL string `yaml:"base_url"`
}

// ToolsConfig names the external programs.
type ToolsConfig struct {
	FFmpeg  string `yaml:"ffmpeg"`
	FFprobe string `yaml:"ffprobe"`
	ADB     string `yaml:"adb"`
	IRCtl   string `yaml:"ir_ctl"`
	IRSend  string `yaml:"irsend"`
	XDoTool string `yaml:"xdotool"`
	// Tesseract reads text on screen (vpt.ocr, match_text, text
	// verifications).
	Tesseract string `yaml:"tesseract"`
}

// AVConfig is the `av:` section: the check of a run's recording
// (check_video, check_audio): the longest black, frozen and silent
// stretches a run may have (a negative one is not checked), and what the
// detectors count.
type AVConfig struct {
	MaxBlack   time.Duration `yaml:"max_black"`
	MaxFreeze  time.Duration `yaml:"max_freeze"`
	MaxSilence time.Duration `yaml:"max_silence"`
	// Stretches shorter than these are not found at all.
	MinBlack   time.Duration `yaml:"min_black"`
	MinFreeze  time.Duration `yaml:"min_freeze"`
	MinSilence time.Duration `yaml:"min_silence"`
	// SilenceThreshold: sound at or below this level (dBFS) is silent.
	SilenceThreshold float64 `yaml:"silence_threshold"`
}

// OCRConfig is the `ocr:` section.
type OCRConfig struct {
	// Languages tesseract reads by default (its names: eng, deu, fra).
	Languages []string `yaml:"languages"`
}

// defaults are the configuration of a machine without vpt.yaml.
var defaults = map[string]any{
	"team_id":                  DefaultTeamID,
	"scripts_dir":              "test_scripts",
	"userinterfaces_dir":       "userinterfaces",
	"results_dir":              "vpt-results",
	"store":                    "",
	"python":                   "python3",
	"ai_executor":              "ai_testcase_executor.py",
	"timeout":                  time.Hour,
	"grace":                    10 * time.Second,
	"video.mode":               "on",
	"video.quality":            "copy",
	"video.fps":                10,
	"video.segment":            2,
	"screenshots.format":       "png",
	"screenshots.quality":      85,
	"screenshots.auto":         true,
	"upload.enabled":           false,
	"upload.endpoint":          "",
	"upload.bucket":            "virtualpytest",
	"upload.public_url":        "",
	"upload.presign":           168 * time.Hour,
	"upload.region":            "auto",
	"upload.access_key_id":     "",
	"upload.secret_access_key": "",
	"upload.concurrency":       8,
	"upload.path_style":        false,
	"upload.prefix":            "",
	"upload.timeout":           upload.DefaultTimeout,
	"tools.ffmpeg":             "ffmpeg",
	"tools.ffprobe":            "ffprobe",
	"tools.adb":                "adb",
	"tools.ir_ctl":             "ir-ctl",
	"tools.irsend":             "irsend",
	"tools.xdotool":            "xdotool",
	"tools.tesseract":          "tesseract",
	"av.max_black":             avcheck.DefaultLimits.MaxBlack,
	"av.max_freeze":            avcheck.DefaultLimits.MaxFreeze,
	"av.max_silence":           avcheck.DefaultLimits.MaxSilence,
	"av.min_black":             avcheck.DefaultMinBlack,
	"av.min_freeze":            avcheck.DefaultMinFreeze,
	"av.min_silence":           avcheck.DefaultMinSilence,
	"av.silence_threshold":     avcheck.DefaultSilenceThreshold,
	"ocr.languages":            []string{"eng"},
	"host_name":                "",
	"project_root":             "",
	"keymaps_dir":              "",
	"lock_dir":                 "",
	"env_passthrough":          []string{},
	"events":                   true,
	"notify.urls":              []string{},
	"notify.on":                "always",
	"notify.base_url":          "",
	"devices":                  nil,
}

// configError is a problem with the configuration (exit 2).
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// findConfigFile returns the vpt.yaml to use: --config, else ./vpt.yaml,
// else $XDG_CONFIG_HOME/vpt/vpt.yaml; "" when there is none.
func findConfigFile(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", &configError{fmt.Errorf("config file %s: %w", explicit, err)}
		}
		return explicit, nil
	}
	candidates := []string{"vpt.yaml", "vpt.yml"}
	xdg := os.Getenv("XDG_CONFIG_HOME")
	if xdg == "" {
		if home, err := os.UserHomeDir(); err == nil {
			xdg = filepath.Join(home, ".config")
		}
	}
	if xdg != "" {
		candidates = append(candidates, filepath.Join(xdg, "vpt", "vpt.yaml"))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", nil
}

// loadConfig builds the configuration. flags are the command's flags
// (persistent ones included); bind maps config keys to flag names.
func loadConfig(explicit string, flags *pflag.FlagSet, bind map[string]string, environ []string) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	file, err := findConfigFile(explicit)
	if err != nil {
		return nil, err
	}
	var root *yaml.Node
	if file != "" {
		data, err := yamlfile.ReadFile(file)
		if err != nil {
			return nil, &configError{err}
		}
		// Strict first, for errors with file, line and field; then viper
		// merges the same text under environment and flags.
		var check Config
		root, err = yamlfile.Decode(file, data, &check)
		switch {
		case yamlfile.Empty(err):
			// A vpt.yaml of comments only: the defaults.
		case err != nil:
			return nil, &configError{err}
		default:
			v.SetConfigType("yaml")
			if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
				return nil, &configError{fmt.Errorf("%s: %w", file, err)}
			}
		}
	}
	// Environment, then flags: each layer set after the one it overrides.
	env := envMap(environ)
	insideRun(env)
	where := origin{file: file, root: root, flags: flags, bind: bind, env: env}
	if ps := checkEnvValues(env); len(ps) > 0 {
		return nil, where.errs(ps)
	}
	for key := range defaults {
		if val, ok := env[envName(key)]; ok && val != "" {
			v.Set(key, val)
		}
	}
	for key, name := range bind {
		if f := flags.Lookup(name); f != nil && f.Changed {
			v.Set(key, f.Value.String())
		}
	}
	// viper decodes by the yaml tags, the names vpt.yaml uses (the strict
	// decoder above reads the same tags), so that the device layer's
	// types carry no tag of viper's.
	var cfg Config
	if err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) { dc.TagName = "yaml" }); err != nil {
		return nil, &configError{fmt.Errorf("configuration: %w", err)}
	}
	cfg.File = file
	cfg.where = where
	own := func(key string) bool { return env[envName(key)] != "" || flagChanged(flags, bind[key]) }
	if file != "" {
		cfg.resolveFilePaths(filepath.Dir(file), func(key string) bool { return v.InConfig(key) && !own(key) })
	}
	applyUpstreamEnv(&cfg, env, own)
	cfg.set = map[string]bool{}
	for key := range defaults {
		cfg.set[key] = v.InConfig(key) || own(key)
	}
	cfg.Layers = configLayers(file, explicit, env, flags, bind)
	cfg.PythonSet = v.IsSet("python") && (v.InConfig("python") || env["VPT_PYTHON"] != "" || flagChanged(flags, bind["python"]))
	if ps := cfg.validate(); len(ps) > 0 {
		return nil, where.errs(ps)
	}
	return &cfg, nil
}

// configLayers says which file, variables and flags set the
// configuration (names only: values may be secrets).
func configLayers(file, explicit string, env map[string]string, flags *pflag.FlagSet, bind map[string]string) []string {
	var out []string
	switch {
	case file != "":
		out = append(out, "config file "+file)
	case explicit == "":
		out = append(out, "no config file (./vpt.yaml, $XDG_CONFIG_HOME/vpt/vpt.yaml): defaults")
	}
	for _, key := range slices.Sorted(maps.Keys(defaults)) {
		if env[envName(key)] != "" {
			out = append(out, envName(key)+" sets "+key)
		}
		if name := bind[key]; flagChanged(flags, name) {
			out = append(out, "--"+name+" sets "+key)
		}
	}
	for _, name := range []string{"TEAM_ID", "PROJECT_ROOT", "HOST_NAME", "CLOUDFLARE_R2_ENDPOINT", "CLOUDFLARE_R2_ACCESS_KEY_ID",
		"CLOUDFLARE_R2_SECRET_ACCESS_KEY", "CLOUDFLARE_R2_PUBLIC_URL", "HOST_VIDEO_SOURCE"} {
		if env[name] != "" {
			out = append(out, "upstream variable "+name+" is set")
		}
	}
	return out
}

func flagChanged(flags *pflag.FlagSet, name string) bool {
	if name == "" {
		return false
	}
	f := flags.Lookup(name)
	return f != nil && f.Changed
}

// envName is the VPT_* variable of a configuration key: video.mode is
// VPT_VIDEO_MODE.
func envName(key string) string {
	return "VPT_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// insideRun reads the variables vpt sets for a script it runs as a vpt
// that script starts needs them: VPT_RESULTS_DIR is the run's own folder
// there (upstream's scripts write into it), and the results folder is the
// one that holds it, so that the inner vpt records where the outer one
// does and its runs are not buried in the outer run's folder.
func insideRun(env map[string]string) {
	dir, id := env["VPT_RESULTS_DIR"], env["VPT_RUN_ID"]
	if id == "" || filepath.Base(dir) != id || filepath.Base(filepath.Dir(dir)) != "runs" {
		return
	}
	env["VPT_RESULTS_DIR"] = filepath.Dir(filepath.Dir(dir))
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok {
			m[k] = val
		}
	}
	return m
}

// applyUpstreamEnv reads upstream's variables where vpt's own
// (VPT_*) and flags are not set: TEAM_ID, PROJECT_ROOT, HOST_NAME,
// CLOUDFLARE_R2_*, DEVICE{i}_*.
func applyUpstreamEnv(cfg *Config, env map[string]string, ownEnvOrFlag func(key string) bool) {
	if t := env["TEAM_ID"]; t != "" && !ownEnvOrFlag("team_id") {
		cfg.TeamID = t
	}
	if cfg.ProjectRoot == "" {
		cfg.ProjectRoot = env["PROJECT_ROOT"]
	}
	if cfg.HostName == "" {
		cfg.HostName = env["HOST_NAME"]
	}
	if cfg.HostName == "" {
		cfg.HostName = machineName()
	}
	r2 := []struct {
		key, name string
		dst       *string
	}{
		{"upload.endpoint", "CLOUDFLARE_R2_ENDPOINT", &cfg.Upload.Endpoint},
		{"upload.access_key_id", "CLOUDFLARE_R2_ACCESS_KEY_ID", &cfg.Upload.AccessKeyID},
		{"upload.secret_access_key", "CLOUDFLARE_R2_SECRET_ACCESS_KEY", &cfg.Upload.SecretAccessKey},
		{"upload.public_url", "CLOUDFLARE_R2_PUBLIC_URL", &cfg.Upload.PublicURL},
	}
	for _, e := range r2 {
		if val := env[e.name]; val != "" && !ownEnvOrFlag(e.key) {
			*e.dst = val
		}
	}
	var environ []string
	for k, val := range env {
		environ = append(environ, k+"="+val)
	}
	fromEnv, notes := capture.DevicesFromEnv(environ)
	cfg.Devices, cfg.EnvNotes = capture.MergeDevices(cfg.Devices, fromEnv), append(notes, unknownVariables(env)...)
}

// machineName is the host name results record by default.
func machineName() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown-host"
	}
	return h
}

// resolveFilePaths makes the relative paths written in the configuration
// file relative to the file's folder, so that `vpt --config ~/lab/vpt.yaml`
// works from any directory. Paths from flags, VPT_* variables and the
// defaults stay relative to the working directory. fromFile tells whether
// a key's value came from the file. Program names without a '/' (python3,
// ffmpeg) are looked up in PATH and stay as they are.
func (c *Config) resolveFilePaths(dir string, fromFile func(key string) bool) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	program := func(p string) string {
		if !strings.Contains(p, "/") {
			return p
		}
		return abs(p)
	}
	for key, dst := range map[string]*string{"scripts_dir": &c.ScriptsDir, "userinterfaces_dir": &c.UserInterfacesDir,
		"results_dir": &c.ResultsDir, "keymaps_dir": &c.KeymapsDir, "lock_dir": &c.LockDir, "project_root": &c.ProjectRoot} {
		if fromFile(key) {
			*dst = abs(*dst)
		}
	}
	for key, dst := range map[string]*string{"python": &c.Python, "tools.ffmpeg": &c.Tools.FFmpeg, "tools.ffprobe": &c.Tools.FFprobe,
		"tools.adb": &c.Tools.ADB, "tools.ir_ctl": &c.Tools.IRCtl, "tools.irsend": &c.Tools.IRSend, "tools.xdotool": &c.Tools.XDoTool} {
		if fromFile(key) {
			*dst = program(*dst)
		}
	}
	if path, ok := strings.CutPrefix(c.Store, "sqlite://"); ok && fromFile("store") {
		c.Store = "sqlite://" + abs(path)
	}
	if path, ok := strings.CutPrefix(c.Upload.Endpoint, "file://"); ok && fromFile("upload.endpoint") {
		c.Upload.Endpoint = "file://" + abs(path)
	}
}

// validate checks the decoded configuration and fills what follows from
// it. Each problem names its key; loadConfig says where the key was set.
func (c *Config) validate() []problem {
	var ps problems
	c.Video.Mode = strings.ToLower(c.Video.Mode)
	switch c.Video.Mode {
	case "on", "off", "retain-on-failure":
	case "true":
		c.Video.Mode = "on"
	case "false":
		c.Video.Mode = "off"
	default:
		ps.add("video.mode", "%q: use on, off or retain-on-failure", c.Video.Mode)
	}
	c.Video.Quality = strings.ToLower(c.Video.Quality)
	if _, ok := capture.Qualities[c.Video.Quality]; !ok && c.Video.Quality != "copy" && c.Video.Quality != "" {
		ps.add("video.quality", "%q: use copy, low, fast, medium or high", c.Video.Quality)
	}
	if c.Video.FPS <= 0 || c.Video.FPS > 60 {
		ps.add("video.fps", "%d: use 1 to 60", c.Video.FPS)
	}
	if c.Video.Segment <= 0 || c.Video.Segment > 60 {
		ps.add("video.segment", "%d: use 1 to 60 seconds", c.Video.Segment)
	}
	c.Screenshots.Format = strings.ToLower(c.Screenshots.Format)
	switch c.Screenshots.Format {
	case "png", "jpeg", "jpg":
	default:
		ps.add("screenshots.format", "%q: use png or jpeg", c.Screenshots.Format)
	}
	if c.Screenshots.Quality < 1 || c.Screenshots.Quality > 100 {
		ps.add("screenshots.quality", "%d: use 1 to 100 (JPEG quality)", c.Screenshots.Quality)
	}
	if c.Timeout < 0 {
		ps.add("timeout", "%s: cannot be negative (0: no timeout)", c.Timeout)
	}
	if c.Grace < 0 {
		ps.add("grace", "%s: cannot be negative", c.Grace)
	}
	if c.Upload.Presign <= 0 || c.Upload.Presign > 7*24*time.Hour {
		ps.add("upload.presign", "%s: presigned URLs last at most 7 days (168h), R2's limit", c.Upload.Presign)
	}
	if c.Upload.Concurrency <= 0 {
		ps.add("upload.concurrency", "%d: use 1 or more", c.Upload.Concurrency)
	}
	if c.Upload.Timeout <= 0 {
		ps.add("upload.timeout", "%s: give the longest one upload may take, e.g. 10m", c.Upload.Timeout)
	}
	if c.TeamID == "" {
		ps.add("team_id", "cannot be empty")
	}
	c.AV.check(&ps)
	for _, msg := range checkPassthrough(c.EnvPassthrough) {
		ps.add("env_passthrough", "%s", msg)
	}
	if c.Notify.On != "always" && c.Notify.On != "failure" {
		ps.add("notify.on", "%q: use failure or always", c.Notify.On)
	}
	if c.Store != "" {
		if err := store.CheckScheme(c.Store); err != nil {
			ps.add("store", "%q: %v", store.Redact(c.Store), err)
		}
	}
	checkDevices(c.Devices, &ps)
	if len(ps) > 0 {
		return ps
	}
	if c.Store == "" {
		c.Store = "sqlite://" + filepath.Join(c.ResultsDir, "vpt.db")
	}
	if c.ProjectRoot == "" {
		c.ProjectRoot = detectProjectRoot(c.File)
	}
	return nil
}

// detectProjectRoot: the folder of vpt.yaml, else the nearest folder up
// from here holding .git, else the working directory.
func detectProjectRoot(configFile string) string {
	if configFile != "" {
		if abs, err := filepath.Abs(filepath.Dir(configFile)); err == nil && filepath.Base(configFile) == "vpt.yaml" &&
			!strings.Contains(abs, string(filepath.Separator)+".config"+string(filepath.Separator)) {
			return abs
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}

func (a AVConfig) check(ps *problems) {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"min_black", a.MinBlack}, {"min_freeze", a.MinFreeze}, {"min_silence", a.MinSilence}} {
		if d.v <= 0 {
			ps.add("av."+d.key, "%s: give a duration more than 0, such as 500ms", d.v)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"max_black", a.MaxBlack}, {"max_freeze", a.MaxFreeze}, {"max_silence", a.MaxSilence}} {
		if d.v > 0 && d.v < time.Millisecond {
			ps.add("av."+d.key, "%s: give the duration with its unit, such as 5s (negative: not checked)", d.v)
		}
	}
	if a.SilenceThreshold >= 0 {
		ps.add("av.silence_threshold", "%g: give a level in dBFS below 0, such as -50", a.SilenceThreshold)
	}
}

// AVSettings are the recording check's settings of the executor.
func (a AVConfig) AVSettings() executor.AVSettings {
	return executor.AVSettings{
		Detect: avcheck.Options{MinBlack: a.MinBlack, MinFreeze: a.MinFreeze, MinSilence: a.MinSilence, SilenceThreshold: a.SilenceThreshold},
		Limits: avcheck.Limits{MaxBlack: a.MaxBlack, MaxFreeze: a.MaxFreeze, MaxSilence: a.MaxSilence},
	}
}
