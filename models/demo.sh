#!/usr/bin/env bash
# make demo: load the extension in the sqlite3 shell and run models/demo.sql.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
sqlite3 -bail -cmd ".load $BUILD/embed" :memory: < models/demo.sql
