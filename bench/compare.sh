#!/usr/bin/env bash
# Side-by-side training-step and generation benchmarks: ours (and optionally a baseline build) against PyTorch,
# interleaved so that the load of a shared machine hits every side alike. Prints one line per run and the ratio of each
# pair; see docs/performance.md for how the figures were taken.
#   bench/compare.sh ROUNDS PRESET... [BASELINE_RLM]   e.g. bench/compare.sh 3 shakespeare-char deep-narrow gpt2-124m generate
set -euo pipefail
rounds=$1; shift
baseline=${BASELINE_RLM:-}
rlm=${RLM:-$(cd "$(dirname "$0")/.." && pwd)/src/ResidualLM.Cli/bin/Release/net10.0/rlm}
torch_dir=${TORCH_BENCH:-$(cd "$(dirname "$0")/../.." && pwd)/shared/bench}
steps=${STEPS:-20}
declare -A torch_config=([shakespeare-char]=shakespeare-char-cpu [deep-narrow]=deep-narrow [gpt2-124m]=gpt2-124M)
torch() { (cd "$torch_dir" && OMP_WAIT_POLICY=passive /usr/bin/python3 torch_gpt_bench.py "$@" 2>/dev/null); }
field() { grep -o "\"$1\": *[0-9.]*" | head -1 | grep -o '[0-9.]*$'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for ((r = 1; r <= rounds; r++)); do
  for preset in "$@"; do
    if [[ $preset == generate ]]; then
      ours=$("$rlm" bench generate --preset gpt2-124m --json | field tokens_per_s)
      [[ -n $baseline ]] && echo "baseline $("$baseline" bench generate --preset gpt2-124m --json)"
      theirs=$(torch --config gpt2-124M --no-train --generate | grep '"kv_cache"' | field new_tokens_per_s)
      echo "round $r generate (tokens/s, KV cache): ours $ours, torch $theirs, ratio $(ratio "$ours" "$theirs")x (load $(cut -d' ' -f1 /proc/loadavg))"
      continue
    fi
    ours=$("$rlm" bench train --preset "$preset" --steps "$steps" --json | field ms_per_step)
    [[ -n $baseline ]] && echo "baseline $("$baseline" bench train --preset "$preset" --steps "$steps" --json)"
    theirs=$(torch --config "${torch_config[$preset]}" --steps "$steps" | field ms_per_step_median)
    echo "round $r $preset (ms/step): ours $ours, torch $theirs, ratio $(ratio "$theirs" "$ours")x (load $(cut -d' ' -f1 /proc/loadavg))"
  done
done
