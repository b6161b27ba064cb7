package ui

import (
	_ "embed"
	"sync"
)

// BuiltinName is the userinterface of the virtual device when none is
// configured.
const BuiltinName = "virtual_tv"

//go:embed builtin/virtual_tv.yaml
var builtinYAML []byte

var builtin = sync.OnceValue(func() *UI {
	u, err := Parse("builtin/virtual_tv.yaml", builtinYAML)
	if err != nil {
		panic("built-in userinterface: " + err.Error())
	}
	u.File, u.Dir = "", ""
	return u
})

// Builtin returns the built-in userinterface. Callers must not modify it.
func Builtin() *UI { return builtin() }
