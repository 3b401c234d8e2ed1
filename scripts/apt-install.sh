#!/usr/bin/env bash
# Installs the Debian packages named that are not installed yet, one apt-get at a time: Task runs a
# task's deps side by side, and two apt-gets at once fail on dpkg's lock (exit 100). Takes a lock
# file first, and waits for dpkg's own lock as well (another apt on the machine).
# usage: scripts/apt-install.sh [--no-install-recommends] PACKAGE...
set -euo pipefail
opts=()
if [ "${1:-}" = --no-install-recommends ]; then
	opts+=(--no-install-recommends)
	shift
fi
[ $# -gt 0 ] || { echo "usage: scripts/apt-install.sh [--no-install-recommends] PACKAGE..." >&2; exit 2; }
sudo=""
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
missing() {
	local p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || echo "$p"
	done
}
[ -n "$(missing "$@")" ] || exit 0
exec 9>"${TMPDIR:-/tmp}/abs-apt-install.lock"
flock 9
mapfile -t want < <(missing "$@") # again: another install may have finished while this one waited
[ ${#want[@]} -gt 0 ] || exit 0
echo "installing ${want[*]} (Debian)..." >&2
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${opts[@]}" "${want[@]}" >&2
