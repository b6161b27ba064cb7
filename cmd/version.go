package cmd

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/internal/buildinfo"
)

func newVersionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print vpt's version and the revision it was built from",
		Long: `Print vpt's version (set at build time, else the module version of
go install github.com/vpt-dev/vpt@VERSION), the VCS revision it was built from,
the Go version and the platform. vpt --version prints the first line only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Read()
			if app.jsonOut {
				return printJSON(app, struct {
					buildinfo.Info
					OS   string `json:"os"`
					Arch string `json:"arch"`
				}{info, runtime.GOOS, runtime.GOARCH})
			}
			fmt.Fprintln(app.IO.Out, versionLine(info))
			return nil
		},
	}
}

// versionLine is what vpt version and vpt --version print.
func versionLine(info buildinfo.Info) string {
	var parts []string
	if info.Revision != "" {
		rev := info.Revision
		if info.Modified {
			rev += ", modified"
		}
		parts = append(parts, "revision "+rev)
	}
	if info.Time != "" {
		parts = append(parts, "committed "+info.Time)
	}
	parts = append(parts, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("vpt %s (%s)", info.String(), strings.Join(parts, ", "))
}
