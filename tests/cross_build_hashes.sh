#!/usr/bin/env bash
# Prints one line per run: scenario, model, seed and trace hash, for every shipped scenario and every
# model that fits it, seeds 1..3. Two builds (Debug, Release) must print the same lines.
set -euo pipefail
bin=$1
# Model names: the first word of each line between "models:" and "scenarios:" in `syncstorm list`.
# External replicas run in a Node.js process whose determinism the [external] tests check; leaving
# them out keeps this comparison of our two builds to a few minutes.
models=$("$bin" list | awk '/^models:/{on=1; next} /^[a-z ]+:$/{on=0} on && !/external process/ {print $1}')
for scenario in scenarios/*.toml; do
  for model in $models; do
    for seed in 1 2 3; do
      out=$("$bin" run "$scenario" --model "$model" --seed "$seed" 2>&1) || true
      hash=$(printf '%s\n' "$out" | sed -n 's/^trace hash *//p')
      [ -n "$hash" ] || continue  # the model does not fit the scenario
      printf '%s %s %s %s\n' "$scenario" "$model" "$seed" "$hash"
    done
  done
done
