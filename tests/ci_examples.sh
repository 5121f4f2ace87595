#!/usr/bin/env bash
# Runs the commands of the CI examples in .ci/examples/ on this machine, read from the YAML files
# themselves, so that an example whose flags drift from the command line fails here before a user
# copies it:
#   github-actions-check.yml     its install step, its build steps, every matrix shard, the merge job
#   kubernetes-indexed-job.yaml  every index's container command, then the merge its header names
#   github-actions-adapters.yml  the same as the check example, with its SYNCSTORM_ADAPTERS narrowed
#                                to yjs-list: every adapter's run is the adapter sweep's job
#                                (tests/adapter_sweep.sh), and the full list finds the libraries'
#                                published violations from seed 1 on, so its verdict is red by design
#
#   tests/ci_examples.sh BUILD_DIR [check|kubernetes|adapters] [SEEDS]
#
# BUILD_DIR holds an already-built syncstorm. The build steps are not run as written: a cmake on the
# PATH configures exactly as the step says (failing on an option the project does not know) and
# then puts BUILD_DIR's binary where `cmake --build` would have written it, so the test costs
# seconds, not a rebuild. The only other edit to a command is its seed range: `--seed-range A:B`
# becomes `--seed-range 1:SEEDS` (default 8); a check command without one fails the test. A workflow's
# and a job's `env:` reach every step, as on GitHub, with the one narrowing above; each step gets a
# $GITHUB_STEP_SUMMARY file of its own, and one whose commands name it must leave a passing page
# there. Each job runs in its own workspace (the source tree's entries linked into a temporary directory), as on a
# fresh runner; uploads and downloads of artifacts are copies between workspaces. Needs python3 with
# PyYAML (Debian: python3-yaml).
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$(cd "${1:?usage: tests/ci_examples.sh BUILD_DIR [check|kubernetes|adapters] [SEEDS]}" && pwd)
which_example=${2:-check}
seeds=${3:-8}
binary=$build_dir/syncstorm
[ -x "$binary" ] || { echo "ci_examples: $binary is missing: build it first" >&2; exit 2; }
python3 -c 'import yaml' 2> /dev/null || { echo "ci_examples: python3 with PyYAML is missing (Debian: python3-yaml)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

# ---- A cmake that configures for real but builds nothing ---------------------------------------
real_cmake=$(command -v cmake)
mkdir -p "$work/bin"
cat > "$work/bin/cmake" << EOF
#!/usr/bin/env bash
# Stands in for cmake inside the examples' build steps (see tests/ci_examples.sh).
set -euo pipefail
if [ "\${1:-}" = --build ]; then
  dir=\$2; shift 2
  target=""
  while [ \$# -gt 0 ]; do [ "\$1" = --target ] && target=\$2; shift; done
  [ "\$target" = syncstorm ] || { echo "ci_examples: the build step must build --target syncstorm, got '\$target'" >&2; exit 1; }
  grep -q '^build syncstorm:' "\$dir/build.ninja" || { echo "ci_examples: \$dir has no syncstorm target" >&2; exit 1; }
  ln -sf "$binary" "\$dir/syncstorm"
  exit 0
fi
# Every job configures the same way: the first configure with given arguments runs, the others copy
# its build.ninja (all the build step reads).
dir=""
args=("\$@")
for i in "\${!args[@]}"; do [ "\${args[\$i]}" = -B ] && dir=\${args[\$((i + 1))]}; done
[ -n "\$dir" ] || { echo "ci_examples: a configure step without -B DIR" >&2; exit 1; }
stamp=$work/configured/\$(printf '%s\\n' "\$@" | md5sum | cut -c1-32)
mkdir -p "\$dir" "$work/configured"
if [ -f "\$stamp" ]; then cp "\$(cat "\$stamp")/build.ninja" "\$dir/"; exit 0; fi
log=\$(mktemp)
"$real_cmake" "\$@" > "\$log" 2>&1 || { cat "\$log"; exit 1; }
if grep -q 'Manually-specified variables were not used' "\$log"; then
  cat "\$log"; echo "ci_examples: the configure step sets an option the project does not have" >&2; exit 1
fi
(cd "\$dir" && pwd) > "\$stamp"
EOF
chmod +x "$work/bin/cmake"

new_workspace() {  # new_workspace NAME: a fresh checkout of the source tree, as a runner has
  local ws=$work/ws/$1 entry
  mkdir -p "$ws"
  for entry in "$source_dir"/* "$source_dir"/.ci; do
    case "$(basename "$entry")" in build|syncstorm-report|syncstorm-corpus) continue ;; esac
    ln -s "$entry" "$ws/$(basename "$entry")"
  done
  [ -d "$source_dir/syncstorm-corpus" ] && cp -r "$source_dir/syncstorm-corpus" "$ws/"
  echo "$ws"
}

small_seed_range() {  # small_seed_range FILE: the one edit to an example's command
  if grep -q 'syncstorm check' "$1" && ! grep -Eq -- '--seed-range[ =][0-9]+:[0-9]+' "$1"; then
    fail "a check command without --seed-range A:B (the test would run the full count):"$'\n'"$(cat "$1")"
  fi
  sed -E -i "s/--seed-range([ =])[0-9]+:[0-9]+/--seed-range\\11:$seeds/g" "$1"
}

run_script() {  # run_script WORKSPACE FILE LABEL [ENV=VALUE...]: runs one step, fails the test if it fails
  local ws=$1 file=$2 label=$3
  shift 3
  local started=$SECONDS
  if ! (cd "$ws" && env PATH="$work/bin:$PATH" "$@" bash -e "$file") > "$file.log" 2>&1; then
    cat "$file.log" >&2
    fail "$label failed; its commands:"$'\n'"$(cat "$file")"
  fi
  echo "-- $label: passed ($((SECONDS - started)) s)"
}

# ---- GitHub Actions --------------------------------------------------------------------------
# Writes one file per step of one job: N.run (the script), N.upload (artifact name, then paths),
# N.download (pattern, then path), N.uses (an action this test does not imitate); matrix (the
# values of the job's one matrix variable, one per line, or nothing); and env (NAME=VALUE per line:
# the workflow's `env:`, then the job's, which wins).
extract_job() {  # extract_job WORKFLOW JOB OUTDIR
  python3 - "$@" << 'EOF'
import os, sys, yaml
workflow, job_name, out = sys.argv[1:]
document = yaml.safe_load(open(workflow))
job = document["jobs"][job_name]
os.makedirs(out, exist_ok=True)
variables = {**(document.get("env") or {}), **(job.get("env") or {})}
with open(f"{out}/env", "w") as f:
    for name, value in variables.items():
        value = str(value).strip()
        if "\n" in value or "${{" in value:
            sys.exit(f"{workflow}: env {name}: only one-line values without expressions are understood")
        f.write(f"{name}={value}\n")
matrix = job.get("strategy", {}).get("matrix", {})
if len(matrix) > 1:
    sys.exit(f"{workflow}: job {job_name}: only one matrix variable is understood, got {sorted(matrix)}")
with open(f"{out}/matrix", "w") as f:
    for values in matrix.values():
        f.write("".join(f"{v}\n" for v in values))
for i, step in enumerate(job["steps"]):
    n = f"{out}/{i:02d}"
    uses = step.get("uses", "")
    if "run" in step:
        open(f"{n}.run", "w").write(step["run"] + "\n")
    elif uses.startswith("actions/upload-artifact@"):
        w = step["with"]
        open(f"{n}.upload", "w").write(w["name"] + "\n" + w["path"].strip() + "\n")
    elif uses.startswith("actions/download-artifact@"):
        w = step["with"]
        if not w.get("merge-multiple"):
            sys.exit(f"{workflow}: job {job_name}: only merge-multiple downloads are imitated")
        open(f"{n}.download", "w").write(w["pattern"] + "\n" + w["path"] + "\n")
    else:
        open(f"{n}.uses", "w").write(uses + "\n")
EOF
}

expand() {  # expand FILE VALUE: puts the matrix value in, and fails on any other expression
  sed -i "s/\${{ *matrix\.[a-z_]* *}}/$2/g" "$1"
  if grep -q '\${{' "$1"; then fail "an expression this test cannot evaluate in: $(grep '\${{' "$1")"; fi
}

# NAME=VALUE settings that replace the workflow's own env values (the adapters example's narrowing).
env_overrides=()

run_github_job() {  # run_github_job WORKFLOW JOB
  local workflow=$1 job=$2 steps=$work/steps/$2 value values step ws artifact line pattern dest override summary
  extract_job "$workflow" "$job" "$steps" || fail "$workflow: job $job could not be read"
  for override in "${env_overrides[@]}"; do
    grep -q "^${override%%=*}=" "$steps/env" || fail "$workflow: job $job sets no ${override%%=*} for this test to narrow"
    sed -i "/^${override%%=*}=/d" "$steps/env"
    echo "$override" >> "$steps/env"
  done
  local -a step_env=()
  mapfile -t step_env < "$steps/env"
  values=$(cat "$steps/matrix")
  [ -n "$values" ] || values="-"
  for value in $values; do
    ws=$(new_workspace "$job-$value")
    for step in "$steps"/*.run "$steps"/*.upload "$steps"/*.download "$steps"/*.uses; do
      [ -e "$step" ] || continue
      echo "${step##*/}"
    done | sort | while read -r step; do
      cp "$steps/$step" "$work/current"
      expand "$work/current" "$value"
      case "$step" in
        *.run)
          small_seed_range "$work/current"
          # As on GitHub, each step gets a file of its own for its job page's Markdown.
          summary=$work/summaries/$job-$value-${step%.run}.md
          mkdir -p "$work/summaries"
          run_script "$ws" "$work/current" "$(basename "$workflow") $job [$value] step ${step%.run}" "${step_env[@]}" \
            GITHUB_STEP_SUMMARY="$summary"
          if grep -q 'GITHUB_STEP_SUMMARY' "$work/current"; then
            head -n 1 "$summary" 2> /dev/null | grep -q '^### syncstorm check: PASS$' ||
              fail "$(basename "$workflow") $job [$value] step ${step%.run} wrote no passing page to \$GITHUB_STEP_SUMMARY"
          fi
          ;;
        *.upload)
          artifact=$work/artifacts/$(head -n 1 "$work/current")
          mkdir -p "$artifact"
          tail -n +2 "$work/current" | while read -r line; do
            (cd "$ws" && for path in $line; do [ -e "$path" ] && cp -r --parents "$path" "$artifact/"; done; true)
          done
          ;;
        *.download)
          pattern=$(head -n 1 "$work/current")
          dest=$ws/$(sed -n 2p "$work/current")
          mkdir -p "$dest"
          for artifact in "$work"/artifacts/$pattern; do
            [ -d "$artifact" ] && cp -r "$artifact"/. "$dest/"
          done
          ;;
        *.uses) echo "-- $(basename "$workflow") $job [$value]: not imitated: $(cat "$work/current")" ;;
      esac
    done
  done
}

# ---- Kubernetes -------------------------------------------------------------------------------
# Each index's container command runs in turn with JOB_COMPLETION_INDEX set, `syncstorm` on the PATH
# and the results volume's mount path replaced by a directory here; then the merge command the
# file's header gives on a line of its own ("#   merge: COMMAND").
run_kubernetes_job() {  # run_kubernetes_job FILE
  local file=$1 ws completions mount index merged
  ws=$(new_workspace kubernetes)
  ln -s "$binary" "$work/bin/syncstorm"
  python3 - "$file" "$work/k8s" << 'EOF' || fail "$file could not be read"
import os, sys, yaml
path, out = sys.argv[1:]
spec = yaml.safe_load(open(path))["spec"]
if spec.get("completionMode") != "Indexed":
    sys.exit(f"{path}: not an Indexed Job")
(container,) = spec["template"]["spec"]["containers"]
if container["command"] != ["/bin/sh", "-c"] or len(container["args"]) != 1:
    sys.exit(f"{path}: expected command [/bin/sh, -c] and one script in args")
(mount,) = container["volumeMounts"]
merges = [line.split(" merge: ", 1)[1].strip() for line in open(path) if line.startswith("#") and " merge: " in line]
if len(merges) != 1:
    sys.exit(f"{path}: expected one header line '#   merge: COMMAND', found {len(merges)}")
os.makedirs(out, exist_ok=True)
open(f"{out}/index.sh", "w").write(container["args"][0])
open(f"{out}/completions", "w").write(f"{spec['completions']}\n")
open(f"{out}/mount", "w").write(mount["mountPath"] + "\n")
open(f"{out}/merge.sh", "w").write(merges[0] + "\n")
EOF
  completions=$(cat "$work/k8s/completions")
  mount=$(cat "$work/k8s/mount")
  mkdir -p "$work/volume"
  for script in index merge; do
    sed -i "s#$mount/#$work/volume/#g; s#$mount\$#$work/volume#g; s#$mount\\([\" ]\\)#$work/volume\\1#g" "$work/k8s/$script.sh"
    small_seed_range "$work/k8s/$script.sh"
  done
  for index in $(seq 0 $((completions - 1))); do
    run_script "$ws" "$work/k8s/index.sh" "$(basename "$file") index $index" JOB_COMPLETION_INDEX="$index"
  done
  run_script "$ws" "$work/k8s/merge.sh" "$(basename "$file") merge"
  merged=$(grep -o -- '--json [^ ]*' "$work/k8s/merge.sh" | cut -d' ' -f2)
  [ -n "$merged" ] && [ -f "$merged" ] || fail "the merge command wrote no JSON summary"
  check_merged "$merged"
}

check_merged() {  # check_merged FILE: a passing verdict over exactly seeds 1..SEEDS
  python3 - "$1" "$seeds" << 'EOF' || fail "the merged summary $1 is not the whole small range, passed"
import json, sys
merged, seeds = json.load(open(sys.argv[1])), int(sys.argv[2])
whole = {"first": 1, "last": seeds}
print(f"-- merged: verdict {merged['verdict']}, requested {merged['requested']}, covered {merged['covered']}")
sys.exit(merged["verdict"] != "pass" or merged["requested"] != whole or merged["covered"] != [whole])
EOF
}

case "$which_example" in
  check)
    run_github_job "$source_dir/.ci/examples/github-actions-check.yml" check
    run_github_job "$source_dir/.ci/examples/github-actions-check.yml" merge
    [ -f "$work/ws/merge--/merged.json" ] || fail "the merge job wrote no merged.json"
    check_merged "$work/ws/merge--/merged.json"
    ;;
  kubernetes)
    run_kubernetes_job "$source_dir/.ci/examples/kubernetes-indexed-job.yaml"
    ;;
  adapters)
    command -v node > /dev/null || { echo "ci_examples: node is not installed: the adapters example needs Node.js 20" >&2; exit 2; }
    env_overrides=(SYNCSTORM_ADAPTERS=yjs-list)
    run_github_job "$source_dir/.ci/examples/github-actions-adapters.yml" check
    run_github_job "$source_dir/.ci/examples/github-actions-adapters.yml" merge
    [ -f "$work/ws/merge--/merged.json" ] || fail "the merge job wrote no merged.json"
    check_merged "$work/ws/merge--/merged.json"
    # The narrowed list reached the command: yjs-list ran every seed of every scenario it fits.
    python3 - "$work/ws/merge--/merged.json" "$seeds" << 'EOF' || fail "the merged summary is not yjs-list's $seeds seeds per scenario"
import json, sys
results, seeds = json.load(open(sys.argv[1]))["results"], int(sys.argv[2])
print(f"-- merged: {len(results)} scenarios of yjs-list, seeds run {sorted({r['seeds_run'] for r in results})}")
sys.exit(not results or any(r["model"] != "yjs-list" or r["seeds_run"] != seeds for r in results))
EOF
    ;;
  *) echo "ci_examples: unknown example '$which_example' (check, kubernetes, adapters)" >&2; exit 2 ;;
esac
echo "ci_examples: $which_example: every step passed"
