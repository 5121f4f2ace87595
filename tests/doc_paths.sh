#!/usr/bin/env bash
# Checks that the repository's Markdown points at files that exist: every relative link target
# ([text](path), anchors dropped) and every path written in backticks or commands that starts with
# one of the top-level folders (sim/, models/, scenarios/, reports/, tests/, .ci/). A README whose
# command names a moved scenario fails a reader at the first step. Golden reports (generated, their
# links point into a report folder) and placeholders (NAME) are skipped. Prints file: missing path;
# exit 1.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# The tracked Markdown; outside a git checkout (a source tarball), every Markdown file.
markdown_files() {
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files '*.md'
  else
    find . -name '*.md' -not -path '*/node_modules/*' | sed 's#^\./##' | sort
  fi
}

failures=0
while IFS= read -r doc; do
  dir=$(dirname "$doc")
  # Relative links, resolved from the document's folder.
  while IFS= read -r target; do
    target=${target%%#*}
    [ -n "$target" ] || continue
    case "$target" in http://*|https://*|mailto:*) continue ;; esac
    [ -e "$dir/$target" ] || { echo "$doc: link to missing $target"; failures=$((failures + 1)); }
  done < <(grep -oE '\]\([^) ]+\)' "$doc" | sed -E 's/^\]\((.*)\)$/\1/' || true)
  # Repository paths in text and commands, resolved from the root.
  while IFS= read -r path; do
    case "$path" in *NAME*|*/CMakeFiles/*) continue ;; esac  # a placeholder; a build tree's file
    [ -e "$path" ] || { echo "$doc: names missing $path"; failures=$((failures + 1)); }
  done < <(grep -oE '(^|[ `("=])(sim|models|scenarios|reports|tests|\.ci)/[A-Za-z0-9_./-]*[A-Za-z0-9_]\.(toml|md|cpp|hpp|sh|js|ts|json|txt|yml)\b' "$doc" \
             | sed -E 's/^[ `("=]//' | sort -u || true)
done < <(markdown_files | grep -vE '/node_modules/|^tests/reports/golden/|^build')

[ "$failures" -eq 0 ] || { echo "doc paths: $failures missing"; exit 1; }
echo "doc paths: every link and repository path in the Markdown exists"
