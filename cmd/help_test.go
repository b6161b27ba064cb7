package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The example files the commands' examples run exist in the repository,
// so that a newcomer can paste them from its root.
func TestExamplesNameFilesThatExist(t *testing.T) {
	root := NewRoot(&App{IO: &IOStreams{}})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, tok := range strings.Fields(c.Example) {
			ext := filepath.Ext(tok)
			if !strings.HasPrefix(tok, "examples/") || (ext != ".py" && ext != ".yaml" && ext != ".yml" && ext != ".sh") {
				continue
			}
			n++
			if _, err := os.Stat(filepath.Join("..", tok)); err != nil {
				t.Errorf("%s --help: the example names %s, which does not exist", c.CommandPath(), tok)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n == 0 {
		t.Fatal("no example names a file")
	}
}
