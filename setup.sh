#!/usr/bin/env bash
# One script for a fresh Debian 12 machine: installs what is missing, builds what the mode needs, and then
#   ./setup.sh run    builds the syncstorm binary only and runs the main job on the shipped defaults
#                     (syncstorm compare -> syncstorm-report/)
#   ./setup.sh test   builds everything and runs the whole test suite: Release, then the suite and the
#                     fuzz harnesses under Clang with AddressSanitizer + UBSan, then checks that Debug
#                     and Release builds give the same trace hashes
#   ./setup.sh build  installs everything and builds everything (the binary, the tests, the benchmarks)
#   ./setup.sh deps   only installs the Debian packages the syncstorm binary needs (what CI jobs that
#                     build only the binary call; see .ci/examples/)
#   ./setup.sh adapters  only installs Node.js and the external adapters' npm packages (lock files
#                     pin them); fails when one cannot be installed
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)

# The one list of Debian packages: what the syncstorm binary needs to build, then what the test suite
# and the benchmarks add (Chromium checks the HTML report in a browser, xmllint the JUnit schema, PyYAML
# reads the CI examples for tests/ci_examples.sh, jq and strace serve the killed-writer test, Clang and its runtime the fuzz harnesses).
binary_packages=(cmake ninja-build g++ libboost-dev libfmt-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
                 libjemalloc-dev)
test_packages=(catch2 librapidcheck-dev libxml2-utils libbenchmark-dev chromium chromium-driver python3-yaml jq strace clang libclang-rt-14-dev)

install_missing() {  # install_missing PACKAGE...
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
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

# The shipped adapters (models/adapters/) need their npm packages, and the adapter kit its
# TypeScript, which checks the kit's type declarations; the lock files pin them.
npm_dirs=(models/adapters/lib models/adapters/yjs models/adapters/automerge models/adapters/sharedb models/adapters/y-websocket models/adapters/automerge-repo models/adapters/automerge-repo-next models/adapters/loro models/adapters/tinybase)

install_npm_adapters() {
  # Tests of the adapters fail where these are missing (SYNCSTORM_NO_NODE=1 skips them).
  for dir in "${npm_dirs[@]}"; do
    [ -d "$dir/node_modules" ] && continue
    echo "setup: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error || echo "setup: npm ci failed in $dir (its tests will fail)"
  done
}

install_node() {
  # Node.js and npm run the external adapters. Checked as commands, not packages: a machine may have
  # them from elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's npm).
  local missing=()
  command -v node > /dev/null || missing+=(nodejs)
  command -v npm > /dev/null || missing+=(npm)
  [ ${#missing[@]} -eq 0 ] || install_missing "${missing[@]}"
}

install_everything() {
  install_missing "${binary_packages[@]}" "${test_packages[@]}"
  install_node
  install_npm_adapters
}

# The tests and the benchmarks are on for every mode that builds them; `run` leaves them off in a
# fresh build directory but keeps what an earlier `build` or `test` configured there (turning them
# off would leave a developer's build/release without its ctest entries).
build_everything() {
  mkdir -p build
  build build/release Release -DSYNCSTORM_TESTS=ON -DSYNCSTORM_BENCH=ON
}

case "$mode" in
  deps)
    install_missing "${binary_packages[@]}"
    ;;
  adapters)
    install_node
    install_npm_adapters
    for dir in "${npm_dirs[@]}"; do
      [ -d "$dir/node_modules" ] || { echo "setup: $dir has no node_modules: npm ci failed there (see above)" >&2; exit 1; }
    done
    ;;
  build)
    install_everything
    build_everything
    ;;
  run)
    install_missing "${binary_packages[@]}"
    mkdir -p build
    if [ -f build/release/CMakeCache.txt ]; then
      cmake -S . -B build/release > build/release.configure.log 2>&1 || { cat build/release.configure.log; exit 1; }
    else
      cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNCSTORM_TESTS=OFF -DSYNCSTORM_BENCH=OFF \
        > build/release.configure.log 2>&1 || { cat build/release.configure.log; exit 1; }
    fi
    cmake --build build/release -j "$jobs" --target syncstorm
    ./build/release/syncstorm compare --out syncstorm-report
    echo "setup: the report is in syncstorm-report/index.html (also report.md, summary.md, results.json, results.csv)"
    ;;
  test)
    install_everything
    build_everything
    echo "== test suite (Release)"
    (cd build/release && ctest --output-on-failure -j "$jobs")
    echo "== the CI gate on the shipped defaults: every shipped scenario x every correct model, 1,000 seeds"
    # The full count: each correct model passes 1,000 seeds of every shipped scenario it fits
    # (about 10 minutes on 2 cores). The suite above runs the quick versions of these sweeps.
    started=$SECONDS
    ./build/release/syncstorm check --seeds 1000 --jobs "$jobs" --no-progress --verify-determinism=1 \
      --junit build/check-junit.xml --json build/check.json
    echo "gate: $((SECONDS - started)) s"
    echo "== the explorers: every correct model, 300 seeds under --explore priority and 300 under novelty"
    # The gate draws runs independently; priority runs reorder connections and resets while writes
    # are in flight, and novelty runs breed the runs that reached something new. They found the
    # bugs the gate had passed in models declared correct (broker-map, or-set-list, the Loro relay).
    # About 3 minutes on 2 cores; the room is the Debug build this command no longer makes (the
    # sanitized Clang suite checks the same pinned trace hashes from another compiler, optimisation
    # level and allocator than the Release suite).
    started=$SECONDS
    for explore in priority novelty; do
      ./build/release/syncstorm check --seeds 300 --explore "$explore" --jobs "$jobs" --no-progress \
        --junit "build/check-$explore-junit.xml" --json "build/check-$explore.json"
    done
    echo "explorers: $((SECONDS - started)) s"
    echo "== the adapter sweep: every shipped external adapter (real JavaScript libraries) over every scenario it fits"
    # At the script's full seed counts, sized for under 10 minutes of 2 cores: 465 to 560 s on 2 cores on
    # 7 December 2026 (models/adapters/README.md, "The adapter sweep"). ADAPTER_SWEEP_SEEDS_PERCENT scales it.
    started=$SECONDS
    tests/adapter_sweep.sh build/release/syncstorm
    echo "adapter sweep: $((SECONDS - started)) s"
    echo "== test suite and fuzz harnesses (Clang, AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer)"
    # One tree does three jobs: the whole suite under the sanitizers, the libFuzzer harnesses of
    # tests/fuzz for a bounded number of inputs each (label fuzz), and the pinned trace hashes from
    # another compiler than the Release build's (GCC and Clang once drew two random numbers of one
    # expression in opposite orders). -O1 keeps assertions (a Debug build) while running the suite
    # ten times faster than -O0; line tables are all the debug information a sanitizer's report needs
    # (functions, files, lines, inlined frames), and full debug information cost about a tenth more
    # compile time. The CI examples' steps (shell and flags, run by the Release suite), the install
    # test (a user's build against the installed library) and the kill test of whole outputs (its
    # kills land at moments of a run, which the sanitizers stretch tenfold) exercise no code the rest misses;
    # neither do the sweeps labelled many-seeds (the comparison of every buggy baseline on 20 seeds
    # took 7 of the sanitized suite's 10 minutes; the suite runs the same code on fewer seeds).
    build build/sanitize Debug -DCMAKE_CXX_COMPILER=clang++ -DSYNCSTORM_FUZZ=ON -DSYNCSTORM_BENCH=OFF \
      "-DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only -O1"
    (cd build/sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -j "$jobs" -LE 'install|examples|kills|many-seeds')
    ;;
  *)
    echo "usage: ./setup.sh [build|run|test|deps|adapters]" >&2
    exit 2
    ;;
esac
