#!/bin/sh
# A test script in shell, using the script API through `vpt api`
# (newline-delimited JSON over the socket in VPT_CONTROL; see
# docs/script-api.md for the protocol).
set -eu
api() { "${VPT_BIN:-vpt}" api "$@"; }

api hello
api goto node=live
api step name="Live TV reached" passed=true
api screenshot label=live
if api verify node=guide | grep -q '"passed":true'; then
  api fail reason="the guide should not be showing"
fi
api metadata --params '{"shell": true}'
api summary text="checked live TV from a shell script"
