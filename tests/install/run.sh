#!/usr/bin/env bash
# Installs syncstorm from BUILD_DIR into a temporary prefix, builds tests/install/user_model against
# it with find_package(syncstorm), and runs the user's model with the ordinary CLI commands.
set -euo pipefail
build=$1
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$source_dir/tests/install/user_model" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
bin=$work/build/my-syncstorm
listing=$("$bin" list --json)
grep -q '"name": "my-counter"' <<< "$listing" || { echo "FAILED: my-counter is not listed"; exit 1; }
grep -q '"name": "lww-map"' <<< "$listing" || { echo "FAILED: the shipped models are gone"; exit 1; }
out=$("$bin" run quiet --model my-counter --seed 3)
grep -q "^violations  0" <<< "$out" || { echo "FAILED: my-counter on quiet:"; echo "$out"; exit 1; }
grep -q "^replay      syncstorm replay" <<< "$out" || { echo "FAILED: no replay line"; exit 1; }
# The installed binary finds the scenarios in <prefix>/share/syncstorm, not in the source tree.
installed=$(cd "$work" && SYNCSTORM_SCENARIOS= prefix/bin/syncstorm run quiet --model echo --seed 1)
grep -q "^replay      syncstorm replay prefix/share/syncstorm/scenarios/quiet.toml" <<< "$installed" ||
  { echo "FAILED: the installed binary does not read <prefix>/share/syncstorm/scenarios:"; echo "$installed"; exit 1; }
[ -f "$work/prefix/share/syncstorm/adapters/yjs/adapter.js" ] || { echo "FAILED: the adapters are not installed"; exit 1; }
echo "installed syncstorm: the user's model builds with find_package(syncstorm) and runs; the installed binary reads its own scenarios"
