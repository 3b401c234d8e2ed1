#!/usr/bin/env bash
# Puts the study's results into the docs: the plots of RESULTS (abs-study analyse's output folder)
# into DOCS/reproduction/, and its tables.md into DOCS/reproduction.md between the lines
# "<!-- study tables: begin -->" and "<!-- study tables: end -->" (which must be there).
# usage: scripts/study-docs.sh RESULTS DOCS
set -euo pipefail
res=$1 docs=$2
page="$docs/reproduction.md"
grep -q '^<!-- study tables: begin -->$' "$page" && grep -q '^<!-- study tables: end -->$' "$page" || {
	echo "study-docs.sh: $page lacks the lines <!-- study tables: begin --> and <!-- study tables: end -->" >&2
	exit 1
}
mkdir -p "$docs/reproduction"
cp "$res"/*.png "$docs/reproduction/"
awk -v tables="$res/tables.md" '
	/^<!-- study tables: begin -->$/ { print; while ((getline line < tables) > 0) print line; skip = 1; next }
	/^<!-- study tables: end -->$/ { skip = 0 }
	!skip { print }
' "$page" >"$page.new"
mv "$page.new" "$page"
echo "updated $page and $docs/reproduction/"
