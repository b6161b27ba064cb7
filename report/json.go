// Package report writes what people and CI read after a run: report.html
// and result.json in every run folder, the campaign report, JUnit XML and
// summary.json, and uploads run folders to R2 or any S3 store.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vpt-dev/vpt/store"
)

// ResultSchema names the version of result.json's shape.
const ResultSchema = "vpt.result/v1"

// Names of the files of a run folder.
const (
	OutputLog  = "output.log"
	ResultJSON = "result.json"
	ReportHTML = "report.html"
	VideoMP4   = "video.mp4"
)

// RunFile is the content of result.json (documented in docs/result-json.md):
// the stored result, plus the files of the run folder.
type RunFile struct {
	Schema string `json:"schema"`
	*store.Result
	Files RunFiles `json:"files"`
}

// RunFiles lists the files of a run folder, relative to it.
type RunFiles struct {
	OutputLog   string   `json:"output_log"`
	Report      string   `json:"report,omitempty"`
	Video       string   `json:"video,omitempty"`
	Screenshots []string `json:"screenshots,omitempty"`
}

// NewRunFile describes a result and the files its folder holds.
func NewRunFile(res *store.Result) RunFile {
	f := RunFile{Schema: ResultSchema, Result: res, Files: RunFiles{OutputLog: OutputLog}}
	if res.RunDir != "" {
		if _, err := os.Stat(filepath.Join(res.RunDir, ReportHTML)); err == nil {
			f.Files.Report = ReportHTML
		}
	}
	if v := res.Details.Video; v != nil && v.Path != "" {
		f.Files.Video = v.Path
	}
	for _, s := range res.Details.Screenshots {
		f.Files.Screenshots = append(f.Files.Screenshots, s.Path)
	}
	return f
}

// WriteResultJSON writes result.json into the result's run folder.
func WriteResultJSON(res *store.Result) error {
	b, err := json.MarshalIndent(NewRunFile(res), "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(res.RunDir, ResultJSON), append(b, '\n'))
}

// ReadResultJSON reads the result.json of a run folder.
func ReadResultJSON(dir string) (*store.Result, error) {
	b, err := os.ReadFile(filepath.Join(dir, ResultJSON))
	if err != nil {
		return nil, err
	}
	f := RunFile{Result: &store.Result{}}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ResultJSON), err)
	}
	return f.Result, nil
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path: readers see the old file or the new one, never half.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
