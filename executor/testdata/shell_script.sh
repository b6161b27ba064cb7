#!/bin/sh
echo "shell says hi: $*"
