package main

// PostgreSQL and S3 end to end: the servers scripts/test starts.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/report/artifact"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres/pgtest"
)

func TestCampaignOnPostgres(t *testing.T) {
	url := pgtest.FreshDB(t)
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: pg
name: On PostgreSQL
device: auto
execution_config: {parallel: true}
script_configurations:
  - {script_name: ok}
  - {script_name: goto, parameters: {node: live}}
  - {script_name: bad}
  - {script_name: zap, parameters: {channels: 1, dwell: 0.1}}
`)
	p.vpt("campaign", "c.yaml", "--store", url, "--device", "device1,device3").expectOut(t, 1, "FAILED On PostgreSQL: 4 scripts, 3 passed, 1 failed")
	if _, err := os.Stat(filepath.Join(p.dir, "vpt-results", "vpt.db")); err == nil {
		t.Fatal("a SQLite file was written despite --store postgres://")
	}
	r := p.vpt("report", "list", "--store", url)
	r.expectOut(t, 0, "goto", "zap", "bad")
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	list, _ := st.ListCampaigns(context.Background(), store.CampaignFilter{CampaignID: "pg"})
	if len(list) != 1 || list[0].Status != "failed" || list[0].Stats.Passed != 3 {
		t.Fatalf("campaign %+v", list)
	}
}

// Several vpt processes (several hosts, as far as the store can tell)
// write one PostgreSQL database at once.
func TestConcurrentProcessesOnPostgres(t *testing.T) {
	url := pgtest.FreshDB(t)
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := campaignProject(t)
			var entries strings.Builder
			for j := 0; j < 5; j++ {
				entries.WriteString("  - {script_name: ok}\n")
			}
			p.write("c.yaml", fmt.Sprintf("campaign_id: host%d\nname: Host %d\ndevice: device1\nscript_configurations:\n%s", i, i, entries.String()))
			r := p.vptEnv([]string{fmt.Sprintf("HOST_NAME=host-%d", i)}, "campaign", "c.yaml", "--store", url)
			if r.code != 0 {
				errs <- r.stderr
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	st, _ := store.Open(context.Background(), url)
	defer st.Close()
	rows, _ := st.ListResults(context.Background(), store.ResultFilter{})
	if len(rows) != 20 {
		t.Fatalf("%d rows, want 20", len(rows))
	}
}

// uploadEnv points vpt at the test S3 server through upstream's variables.
func uploadEnv(t *testing.T, prefix string) []string {
	ep := testenv.Server(t, "VPT_TEST_S3_ENDPOINT", "versitygw, an S3 server")
	return []string{
		"CLOUDFLARE_R2_ENDPOINT=" + ep, "CLOUDFLARE_R2_ACCESS_KEY_ID=" + os.Getenv("VPT_TEST_S3_ACCESS_KEY"),
		"CLOUDFLARE_R2_SECRET_ACCESS_KEY=" + os.Getenv("VPT_TEST_S3_SECRET_KEY"),
		"VPT_UPLOAD_BUCKET=" + os.Getenv("VPT_TEST_S3_BUCKET"), "VPT_UPLOAD_PATH_STYLE=true", "VPT_UPLOAD_PREFIX=" + prefix,
	}
}

func TestUploadEndToEnd(t *testing.T) {
	p := campaignProject(t)
	env := uploadEnv(t, fmt.Sprintf("e2e-%d", time.Now().UnixNano()))
	secret := os.Getenv("VPT_TEST_S3_SECRET_KEY")
	var outputs bytes.Buffer
	run := func(code int, extra []string, args ...string) result {
		r := p.vptEnv(append(append([]string(nil), env...), extra...), args...)
		outputs.WriteString(r.stdout + r.stderr)
		r.expect(t, code)
		return r
	}
	r := run(0, []string{"VPT_VIDEO_MODE=on"}, "run", "goto", "--upload", "--junit", "out/junit.xml", "--", "--node", "live")
	if !strings.Contains(r.stdout, "url     http://") || !strings.Contains(r.stdout, "X-Amz-Signature") {
		t.Fatalf("no URL in the summary:\n%s", r.stdout)
	}
	res := p.only()
	if res.UploadStatus != store.UploadDone || !strings.Contains(res.HTMLReportR2Path, "/script-reports/virtual/goto_") {
		t.Fatalf("result %+v", res)
	}
	junit, _ := os.ReadFile(filepath.Join(p.dir, "out", "junit.xml"))
	if !strings.Contains(string(junit), "report: http://") {
		t.Fatal("the report URL is not in the JUnit file")
	}

	// The server down: the run passes, its upload is pending, exit 3,
	// nothing local changes; later, vpt report upload --pending sends it.
	down := []string{"CLOUDFLARE_R2_ENDPOINT=http://127.0.0.1:1"}
	r = run(3, down, "run", "ok", "--upload")
	if !strings.Contains(r.stderr, "upload") || !strings.Contains(r.stderr, "--pending") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	var pending []store.Result
	for _, row := range p.results() {
		if row.UploadStatus == store.UploadPending {
			pending = append(pending, row)
		}
	}
	if len(pending) != 1 {
		t.Fatalf("%d pending uploads", len(pending))
	}
	run(0, nil, "report", "upload", "--pending").expectOut(t, 0, "uploaded "+pending[0].ID[:8])
	run(0, nil, "report", "upload", "--pending").expectOut(t, 0, "no pending uploads")

	// A campaign uploads every run and its own report.
	p.write("c.yaml", "campaign_id: up\nname: Uploaded\ndevice: device1\nscript_configurations: [{script_name: ok}, {script_name: hello}]\n")
	r = run(0, nil, "campaign", "c.yaml", "--upload")
	if !strings.Contains(r.stdout, "url     http://") {
		t.Fatalf("campaign URL missing:\n%s", r.stdout)
	}
	run(0, nil, "doctor")
	run(0, nil, "report", "show", "latest")
	run(0, nil, "report", "prune", "--older-than", "0s", "--remote")

	// The secret is nowhere: not in anything printed, not in any file.
	if strings.Contains(outputs.String(), secret) {
		t.Fatal("the secret key was printed")
	}
	filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the secret key is in %s", path)
		}
		return nil
	})
}

func TestUploadObjectsAfterPrune(t *testing.T) {
	p := campaignProject(t)
	env := uploadEnv(t, fmt.Sprintf("prune-%d", time.Now().UnixNano()))
	p.vptEnv(env, "run", "ok", "--upload").expect(t, 0)
	res := p.only()
	up, err := artifact.NewS3(artifact.S3Config{Endpoint: os.Getenv("VPT_TEST_S3_ENDPOINT"), Bucket: os.Getenv("VPT_TEST_S3_BUCKET"),
		AccessKeyID: os.Getenv("VPT_TEST_S3_ACCESS_KEY"), SecretAccessKey: os.Getenv("VPT_TEST_S3_SECRET_KEY"), PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := up.Get(context.Background(), res.HTMLReportR2Path); err != nil {
		t.Fatalf("uploaded report: %v", err)
	}
	p.vptEnv(env, "report", "prune", "--older-than", "0s", "--remote").expectOut(t, 0, "deleted 1")
	if _, _, err := up.Get(context.Background(), res.HTMLReportR2Path); err == nil {
		t.Fatal("the remote report survived prune --remote")
	}
}
