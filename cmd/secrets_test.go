package cmd

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestSecretsOfConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("vpt.yaml", []byte("env_passthrough: [PGPASSWORD]\nupload: {access_key_id: yaml-access-key}\n"), 0o644)
	env := []string{
		"VPT_STORE=postgres://vpt:pw%2Fone@db/vpt?password=two&sslmode=disable", "PGPASSWORD=three",
		"CLOUDFLARE_R2_SECRET_ACCESS_KEY=r2-secret", "VPT_UPLOAD_SECRET_ACCESS_KEY=vpt-secret", "PATH=/bin",
	}
	cfg, err := loadConfig("", flagsFor(t), flagKeys, env)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.secrets(env)
	for _, want := range []string{"yaml-access-key", "vpt-secret", "r2-secret", "pw/one", "pw%2Fone", "two", "three"} {
		if !slices.Contains(s.Values, want) {
			t.Errorf("secrets %q lack %q", s.Values, want)
		}
	}
	if want := []string{"VPT_UPLOAD_SECRET_ACCESS_KEY", "CLOUDFLARE_R2_SECRET_ACCESS_KEY", "VPT_STORE", "PGPASSWORD"}; !slices.Equal(s.Vars, want) {
		t.Errorf("secret variables %q, want %q", s.Vars, want)
	}
	if !slices.Equal(cfg.EnvPassthrough, []string{"PGPASSWORD"}) {
		t.Errorf("env_passthrough %q", cfg.EnvPassthrough)
	}

	// A store without a password: VPT_STORE is not a secret, PGPASSWORD
	// is not vpt's when the store is SQLite. VPT_ENV_PASSTHROUGH, a
	// comma-separated list, wins over vpt.yaml.
	plain := []string{"VPT_STORE=sqlite://x.db", "PGPASSWORD=three", "VPT_ENV_PASSTHROUGH=A,B"}
	cfg, err = loadConfig("", flagsFor(t), flagKeys, plain)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.secrets(plain); len(s.Vars) != 0 || slices.Contains(s.Values, "three") {
		t.Errorf("secrets of a plain configuration: %+v", s)
	}
	if !slices.Equal(cfg.EnvPassthrough, []string{"A", "B"}) {
		t.Errorf("VPT_ENV_PASSTHROUGH=A,B: %q", cfg.EnvPassthrough)
	}
}

func TestEnvPassthroughNames(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("vpt.yaml", []byte("env_passthrough: [\"A=B\"]\n"), 0o644)
	_, err := loadConfig("", flagsFor(t), flagKeys, nil)
	if err == nil || !strings.Contains(err.Error(), `env_passthrough: "A=B" is not a variable name`) {
		t.Fatalf("err %v", err)
	}
}
