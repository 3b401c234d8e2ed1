#!/usr/bin/env bash
# Prints the path of the pinned MinIO server binary, building it with `go install` into a cache
# directory on first use (about 8 minutes cold). Tests, CI and the Taskfile all call this one script.
# MinIO is AGPL: we only ever run it as a separate process.
set -euo pipefail
version="v0.0.0-20260212201848-7aac2a2c5b7c"
cache="${ABS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/abs}/minio/$version"
bin="$cache/minio"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  # One build at a time: test packages that start together wait for the first one's build.
  exec 9>"$cache/.lock"
  flock 9
fi
if [ ! -x "$bin" ]; then
  echo "building MinIO server $version into $cache (first use only)..." >&2
  GOBIN="$cache" GOFLAGS=-mod=mod go install "github.com/minio/minio@$version" >&2
fi
echo "$bin"
