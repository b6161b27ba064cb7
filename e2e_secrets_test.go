package main

// vpt's own secrets: scripts do not get them, and one printed anyway is
// masked in everything a run shows and records.

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres/pgtest"
)

// secretScript prints its whole environment, writes it to ENV_DUMP, then
// prints the values of SECRETS_FILE (secrets it came by some other way)
// alone, glued into words and in two pieces with a pause, and hands them
// to the script API.
const secretScript = `import json, os, sys, time
import vpt
for k in sorted(os.environ):
    print(k + "=" + os.environ[k])
with open(os.environ["ENV_DUMP"], "w") as f:
    json.dump(dict(os.environ), f)
values = open(os.environ["SECRETS_FILE"]).read().split()
for s in values:
    print("printed anyway: " + s)
    print("glued: word" + s + "s")
    sys.stdout.write("split: " + s[:5])
    sys.stdout.flush()
    time.sleep(0.1)
    print(s[5:])
vpt.step("login with " + values[0], True, "message " + values[1])
vpt.summary("summary " + values[2])
vpt.metadata(token=values[3])
vpt.fail("reason " + values[4])
`

// shown finds a secret standing alone (not inside a word), as masking
// sees it.
func shown(text, secret string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(secret) + `($|[^A-Za-z0-9_])`).MatchString(text)
}

func TestSecretsStayOutOfRuns(t *testing.T) {
	base := pgtest.FreshDB(t)
	const (
		uploadSecret = "UploadSecretKey0123456789"
		r2Secret     = "R2SecretAccessKey9876543210" // handed over with env_passthrough
		storeUserPw  = "StoreUserPassw0rd"
		storeQueryPw = "StoreQueryPassw0rd"
		pgPassword   = "PgEnvPassword4242"
		shortKey     = "AK12" // too short to mask
	)
	long := []string{uploadSecret, r2Secret, storeUserPw, storeQueryPw, pgPassword}
	storeURL := strings.Replace(base, "postgres://vpt@", "postgres://vpt:"+storeUserPw+"@", 1) + "&password=" + storeQueryPw
	if !strings.Contains(storeURL, storeUserPw) || !strings.Contains(storeURL, "?sslmode=disable&password=") {
		t.Fatalf("unexpected test server URL %s", base)
	}

	p := newProject(t)
	p.write("vpt.yaml", "env_passthrough: [CLOUDFLARE_R2_SECRET_ACCESS_KEY]\n")
	p.write("test_scripts/env.py", secretScript)
	secretsFile := p.write("secrets.txt", strings.Join(append(append([]string(nil), long...), shortKey), "\n"))
	dump := filepath.Join(p.dir, "env.json")
	env := []string{
		"VPT_STORE=" + storeURL, "PGPASSWORD=" + pgPassword,
		"CLOUDFLARE_R2_ENDPOINT=http://127.0.0.1:1", "CLOUDFLARE_R2_ACCESS_KEY_ID=" + shortKey,
		"CLOUDFLARE_R2_SECRET_ACCESS_KEY=" + r2Secret, "VPT_UPLOAD_SECRET_ACCESS_KEY=" + uploadSecret,
		"VPT_UPLOAD_BUCKET=b", "SECRETS_FILE=" + secretsFile, "ENV_DUMP=" + dump,
	}
	r := p.vptEnv(env, "run", "env", "--junit", "out/junit.xml")
	r.expectOut(t, 1, "FAILED env")

	// The environment: vpt's secrets are gone but the one handed over.
	var got map[string]string
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &got)
	for _, name := range []string{"VPT_STORE", "PGPASSWORD", "CLOUDFLARE_R2_ACCESS_KEY_ID", "VPT_UPLOAD_SECRET_ACCESS_KEY"} {
		if v, ok := got[name]; ok {
			t.Errorf("the script got %s=%s", name, v)
		}
	}
	if got["CLOUDFLARE_R2_SECRET_ACCESS_KEY"] != r2Secret {
		t.Errorf("env_passthrough did not hand CLOUDFLARE_R2_SECRET_ACCESS_KEY over: %q", got["CLOUDFLARE_R2_SECRET_ACCESS_KEY"])
	}
	if got["CLOUDFLARE_R2_ENDPOINT"] != "http://127.0.0.1:1" || got["VPT_UPLOAD_BUCKET"] != "b" {
		t.Errorf("variables that are not secrets are missing: %v", got)
	}

	// What the run shows and records: the terminal, output.log,
	// report.html, result.json, the JUnit file, the store row.
	st, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	st = store.Rooted(st, filepath.Join(p.dir, "vpt-results"), false)
	defer st.Close()
	rows, err := st.ListResults(context.Background(), store.ResultFilter{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("%d rows (%v)", len(rows), err)
	}
	row, _ := json.Marshal(rows[0])
	texts := map[string]string{"stdout": r.stdout, "stderr": r.stderr, "store row": string(row)}
	junit, err := os.ReadFile(filepath.Join(p.dir, "out", "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	texts["junit.xml"] = string(junit)
	filepath.WalkDir(rows[0].RunDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			texts[filepath.Base(path)] = string(b)
		}
		return nil
	})
	for _, f := range []string{"output.log", "report.html", "result.json"} {
		if texts[f] == "" {
			t.Fatalf("the run has no %s", f)
		}
	}
	for name, text := range texts {
		for _, s := range long {
			if shown(text, s) {
				t.Errorf("%s shows the secret %s", name, s)
			}
		}
	}
	log := texts["output.log"]
	for _, s := range long {
		stars := strings.Repeat("*", len(s))
		for _, want := range []string{"printed anyway: " + stars + "\n", "split: " + stars + "\n", "glued: word" + s + "s\n"} {
			if !strings.Contains(log, want) {
				t.Errorf("output.log lacks %q", want)
			}
		}
		if !strings.Contains(r.stdout, "printed anyway: "+stars) {
			t.Errorf("the terminal lacks the masked secret %s", stars)
		}
	}
	if !strings.Contains(log, "printed anyway: "+shortKey+"\n") || !strings.Contains(log, "CLOUDFLARE_R2_SECRET_ACCESS_KEY="+strings.Repeat("*", len(r2Secret))) {
		t.Errorf("output.log:\n%s", log)
	}
	res, err := report.ReadResultJSON(rows[0].RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Details.Steps[0].Name != "login with "+strings.Repeat("*", len(uploadSecret)) || res.Details.Summary != "summary "+strings.Repeat("*", len(storeUserPw)) ||
		res.Metadata["token"] != strings.Repeat("*", len(storeQueryPw)) || res.ErrorMsg != "reason "+strings.Repeat("*", len(pgPassword)) {
		t.Errorf("result: steps %+v summary %q metadata %v error %q", res.Details.Steps, res.Details.Summary, res.Metadata, res.ErrorMsg)
	}
}

// A store URL with ?password= is redacted in vpt doctor and in store errors.
func TestStoreURLRedacted(t *testing.T) {
	const userPw, queryPw = "UserPassw0rd123", "QueryPassw0rd456"
	url := "postgres://vpt:" + userPw + "@127.0.0.1:1/vpt?sslmode=disable&password=" + queryPw
	redacted := "postgres://vpt:xxxxx@127.0.0.1:1/vpt?sslmode=disable&password=xxxxx"
	p := newProject(t)
	p.write("test_scripts/hello.py", "print('hello')\n")
	for _, args := range [][]string{{"doctor"}, {"doctor", "--json"}, {"run", "hello"}, {"report", "list"}} {
		r := p.vpt(append(args, "--store", url)...)
		if args[len(args)-1] == "--json" {
			// JSON writes & as \u0026.
			r.expect(t, 3, strings.ReplaceAll(redacted, "&", `\u0026`))
		} else {
			r.expect(t, 3, redacted)
		}
		for _, s := range []string{userPw, queryPw} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("vpt %s shows %s:\n%s%s", strings.Join(args, " "), s, r.stdout, r.stderr)
			}
		}
	}
}
