#!/usr/bin/env bash
# Side-by-side training-step and generation benchmarks: ours (and optionally a baseline build) against PyTorch,
# interleaved so that the load of a shared machine hits every side alike. Prints one line per run; see
# docs/performance.md for how the figures were taken.
#   bench/compare.sh ROUNDS PRESET... [BASELINE_RLM]   e.g. bench/compare.sh 3 shakespeare-char deep-narrow
set -euo pipefail
rounds=$1; shift
baseline=${BASELINE_RLM:-}
rlm=${RLM:-$(dirname "$0")/../src/ResidualLM.Cli/bin/Release/net10.0/rlm}
torch_dir=${TORCH_BENCH:-/work/shared/bench}
steps=${STEPS:-20}
declare -A torch_config=([shakespeare-char]=shakespeare-char-cpu [deep-narrow]=deep-narrow [gpt2-124m]=gpt2-124M)
for ((r = 1; r <= rounds; r++)); do
  for preset in "$@"; do
    echo "round $r $preset load $(cut -d' ' -f1 /proc/loadavg)"
    if [[ $preset == generate ]]; then
      "$rlm" bench generate --preset gpt2-124m --json
      [[ -n $baseline ]] && "$baseline" bench generate --preset gpt2-124m --json | sed 's/^/baseline /'
      (cd "$torch_dir" && OMP_WAIT_POLICY=passive /usr/bin/python3 torch_gpt_bench.py --config gpt2-124M --no-train --generate 2>/dev/null \
        | grep -o '"mode": "kv_cache".*"new_tokens_per_s": [0-9.]*' | sed 's/^/torch /') || true
      continue
    fi
    "$rlm" bench train --preset "$preset" --steps "$steps" --json
    [[ -n $baseline ]] && "$baseline" bench train --preset "$preset" --steps "$steps" --json | sed 's/^/baseline /'
    (cd "$torch_dir" && OMP_WAIT_POLICY=passive /usr/bin/python3 torch_gpt_bench.py --config "${torch_config[$preset]}" --steps "$steps" 2>/dev/null \
      | grep -o '"ms_per_step_median": [0-9.]*' | sed 's/^/torch /')
  done
done
