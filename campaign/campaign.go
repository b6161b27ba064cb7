// Package campaign runs campaigns: YAML (or JSON) files listing scripts to
// run on one device or a pool of devices, validated before anything runs,
// planned (order, devices, shards, retries), executed and recorded.
package campaign

import "errors"

// ErrInvalid: the campaign file is malformed or names scripts, devices,
// userinterfaces or parameters that do not exist. Nothing ran.
var ErrInvalid = errors.New("invalid campaign")
