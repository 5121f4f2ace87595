#!/usr/bin/env bash
# Checks that every #include in sim/, models/ and reports/ points down the layer table: the rows under
# "## Layers" in sim/README.md and models/README.md. A row names a layer, its CMake target, its files
# (a folder ends in /, a library's headers are written <prefix/>) and the layers it may include
# besides itself. Prints each include that crosses the wrong way as file:line and the arrow; exit 1.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# The words in backticks of one table cell, one a line.
ticks() { { grep -o '`[^`]*`' <<< "$1" || true; } | tr -d '`'; }

declare -A may      # layer -> " allowed layers "
declare -a prefixes # "path layer", a folder ending in / or a file; <prefix/ for a library
while IFS= read -r row; do
  IFS='|' read -r _ layer_cell _ files_cell may_cell _ <<< "$row"
  layer=$(ticks "$layer_cell" | head -n1)
  may[$layer]=" $(ticks "$may_cell" | tr "\n" " ")"
  for path in $(ticks "$files_cell" | tr -d ">"); do
    prefixes+=("$path $layer")
  done
done < <(awk '/^## /{on = ($0 ~ /^## Layers/)} on && /^\| `/' sim/README.md models/README.md)
[ "${#prefixes[@]}" -gt 0 ] || { echo "layers: no layer table found in sim/README.md"; exit 1; }

failures=0
fail() { echo "$1"; failures=$((failures + 1)); }
for layer in "${!may[@]}"; do
  for other in ${may[$layer]}; do
    [ -n "${may[$other]+set}" ] || fail "layer table: layer '$layer' may include '$other', which is no layer"
  done
done

# The layer of a path: the longest folder or file of the table it falls in; "" for none.
layer_of() {
  local path=$1 best="" best_length=0 entry prefix
  for entry in "${prefixes[@]}"; do
    prefix=${entry% *}
    if [[ $path == "$prefix" || ($prefix == */ && $path == "$prefix"*) ]] && ((${#prefix} > best_length)); then
      best=${entry##* }
      best_length=${#prefix}
    fi
  done
  printf '%s' "$best"
}

files=0
includes=0
while IFS= read -r file; do
  files=$((files + 1))
  source_layer=$(layer_of "$file")
  if [ -z "$source_layer" ]; then
    fail "$file: belongs to no layer of the table in sim/README.md"
    continue
  fi
  while IFS=: read -r line text; do
    if [[ $text =~ \#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
      target=${BASH_REMATCH[1]}
      shown="\"$target\""
      target_layer=$(layer_of "$target")
      [ -n "$target_layer" ] || { fail "$file:$line: includes $shown, which belongs to no layer"; continue; }
    elif [[ $text =~ \#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
      shown="<${BASH_REMATCH[1]}>"
      target_layer=$(layer_of "<${BASH_REMATCH[1]}")
      [ -n "$target_layer" ] || continue  # a library no layer row names: any layer may use it
    else
      continue
    fi
    includes=$((includes + 1))
    if [ "$target_layer" != "$source_layer" ] && [[ ${may[$source_layer]} != *" $target_layer "* ]]; then
      fail "$file:$line: includes $shown: $source_layer -> $target_layer points the wrong way ($source_layer may include:${may[$source_layer]:- nothing})"
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$file" || true)
done < <(find sim models reports \( -name node_modules -o -name adapters \) -prune -o \
           \( -name '*.hpp' -o -name '*.cpp' \) -print | LC_ALL=C sort)

if [ "$failures" -gt 0 ]; then
  echo "layers: $failures wrong-way includes or unplaced files (the table: sim/README.md#layers)"
  exit 1
fi
echo "layers: $files files, $includes includes of our layers and listed libraries, every one points down"
