// Package report writes what people and CI read after a run: report.html
// and result.json in every run folder, the campaign report, JUnit XML and
// summary.json. report/upload publishes them to an artifact store.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

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
	return writeRunFile(res, NewRunFile(res), WriteFileAtomic)
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

// WriteFileAtomic writes data to a temporary file beside path and renames
// it over path: readers see the old file or the new one, never half.
//
// Every file vpt writes this way is fsynced before the rename (renameio
// always does, and a rename without it may leave an empty file after a
// power cut): result.json must be, since recovery trusts it over the store
// row; the reports (report.html, index.html, summary.json, JUnit XML) are
// small, written once per run, and an empty one after a crash would be
// worse than the old one.
func WriteFileAtomic(path string, data []byte) error {
	return renameio.WriteFile(path, data, 0o644, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
}

// WriteOutputFile writes data to a file a person may have named (--junit).
// A regular file, or none, is replaced atomically (through a symbolic link,
// which stays one); anything else, /dev/stdout, a FIFO or a device, is
// written into as it is: replacing it would put a regular file where
// /dev/stdout was.
func WriteOutputFile(path string, data []byte) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		if st.IsDir() {
			return fmt.Errorf("%s is a folder", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	} else if err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return WriteFileAtomic(path, data)
}

// WriteRunFiles writes a finished run's result.json, then its report.html.
// result.json comes first: it is the record recovery trusts, and a crash
// between the two leaves it complete, the report made again from it. It
// lists the report it precedes; if the report cannot be written, it is
// written again without it. It returns the first error.
//
// The report is rendered, written and fsynced beside result.json (it
// reads only res and tail, as result.json does), under a temporary name:
// it takes its place once result.json has, so that a report is never
// there without the result.json it belongs to.
func WriteRunFiles(res *store.Result, tail []byte) error {
	f := NewRunFile(res)
	f.Files.Report = ReportHTML
	page := make(chan pendingPage, 1)
	go func() { page <- writePending(filepath.Join(res.RunDir, ReportHTML), res, tail) }()
	if err := writeRunFile(res, f, WriteFileAtomic); err != nil {
		if p := <-page; p.file != nil {
			p.file.Cleanup()
		}
		return fmt.Errorf("result.json: %w", err)
	}
	p := <-page
	err := p.err
	if err == nil {
		err = p.file.CloseAtomicallyReplace()
	}
	if p.file != nil {
		p.file.Cleanup() // after the rename, a no-op
	}
	if err != nil {
		f.Files.Report = ""
		_ = writeRunFile(res, f, WriteFileAtomic)
		return fmt.Errorf("report.html: %w", err)
	}
	return nil
}

// pendingPage is a rendered run report written and fsynced under a
// temporary name beside its place.
type pendingPage struct {
	file *renameio.PendingFile
	err  error
}

func writePending(path string, res *store.Result, tail []byte) pendingPage {
	b, err := renderRunFile(res, tail)
	if err != nil {
		return pendingPage{err: err}
	}
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return pendingPage{err: err}
	}
	if _, err = pf.Write(b); err == nil {
		err = pf.Sync()
	}
	return pendingPage{file: pf, err: err}
}

// WriteResultJSONIfAbsent writes result.json only where none exists: a
// recovery never replaces a complete one.
func WriteResultJSONIfAbsent(res *store.Result) error {
	return writeRunFile(res, NewRunFile(res), WriteFileNew)
}

func writeRunFile(res *store.Result, f RunFile, write func(string, []byte) error) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return write(filepath.Join(res.RunDir, ResultJSON), append(b, '\n'))
}

// WriteFileNew writes data to path only if path does not exist, atomically
// and durably: a complete, fsynced temporary file is linked into place, and
// the link fails if anything is there already, which stays as it was.
func WriteFileNew(path string, data []byte) error {
	tmp, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return err
	}
	defer tmp.Cleanup()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
