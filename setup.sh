#!/usr/bin/env bash
# One script for a fresh Debian 12 machine: installs what is missing, builds, and then
#   ./setup.sh run    runs the main job on the shipped defaults (syncstorm compare -> syncstorm-report/)
#   ./setup.sh test   runs the whole test suite: Release, then AddressSanitizer + UBSan, then checks that
#                     Debug and Release builds give the same trace hashes
#   ./setup.sh build  only installs and builds
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)

packages=(cmake ninja-build g++ libboost-dev libfmt-dev catch2 librapidcheck-dev libxml2-utils libtomlplusplus-dev
          libcli11-dev nlohmann-json3-dev libbenchmark-dev libjemalloc-dev chromium chromium-driver)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Node.js and npm run the Yjs and Automerge adapters. Checked as commands, not packages: a machine
  # may have them from elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's npm).
  command -v node > /dev/null || missing+=(nodejs)
  command -v npm > /dev/null || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {  # build DIR TYPE [extra cmake args...]
  local dir=$1 type=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs"
}

install_npm_adapters() {
  # The shipped adapters (models/adapters/) need their npm packages, and the adapter kit its
  # TypeScript, which checks the kit's type declarations; the lock files pin them. Tests of the adapters fail where these are missing (SYNCSTORM_NO_NODE=1 skips them).
  for dir in models/adapters/lib models/adapters/yjs models/adapters/automerge models/adapters/sharedb models/adapters/y-websocket models/adapters/automerge-repo models/adapters/automerge-repo-next models/adapters/loro; do
    [ -d "$dir/node_modules" ] && continue
    echo "setup: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error || echo "setup: npm ci failed in $dir (its tests will fail)"
  done
}

install_missing
install_npm_adapters
mkdir -p build
build build/release Release

case "$mode" in
  build) ;;
  run)
    ./build/release/syncstorm compare --out syncstorm-report
    echo "setup: the report is in syncstorm-report/index.html (also report.md, results.json, results.csv)"
    ;;
  test)
    echo "== test suite (Release)"
    (cd build/release && ctest --output-on-failure -j "$jobs")
    echo "== the CI gate on the shipped defaults: every shipped scenario x every correct model, 1,000 seeds"
    # The full count: each correct model passes 1,000 seeds of every shipped scenario it fits
    # (about 10 minutes on 2 cores). The suite above runs the quick versions of these sweeps.
    started=$SECONDS
    ./build/release/syncstorm check --seeds 1000 --jobs "$jobs" --no-progress --verify-determinism=1 \
      --junit build/check-junit.xml --json build/check.json
    echo "gate: $((SECONDS - started)) s"
    echo "== test suite (AddressSanitizer + UndefinedBehaviorSanitizer)"
    # -O1 keeps assertions (a Debug build) while running the sanitized suite ten times faster than -O0.
    build build/sanitize Debug -DSYNCSTORM_SANITIZE=ON -DSYNCSTORM_BENCH=OFF "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1"
    (cd build/sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -j "$jobs" -LE install)
    echo "== the same trace hashes in Debug and Release builds (and with glibc's allocator and jemalloc)"
    build build/debug Debug -DSYNCSTORM_TESTS=OFF -DSYNCSTORM_JEMALLOC=OFF
    tests/cross_build_hashes.sh build/release/syncstorm > build/hashes-release.txt
    tests/cross_build_hashes.sh build/debug/syncstorm > build/hashes-debug.txt
    if ! diff -u build/hashes-release.txt build/hashes-debug.txt; then
      echo "FAILED: Debug and Release builds give different trace hashes"
      exit 1
    fi
    echo "hashes: $(wc -l < build/hashes-release.txt) runs identical in Debug and Release"
    ;;
  *)
    echo "usage: ./setup.sh [build|run|test]" >&2
    exit 2
    ;;
esac
