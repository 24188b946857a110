#!/usr/bin/env bash
# Every vector path side by side: the same rlm benchmark on the AVX-512, AVX2 and 128-bit paths of one x86 machine
# (forced with the runtime's switches), interleaved with the references, so that the load of a shared machine hits every
# side alike. Prints one line per round with each figure and the ratios the issue "Fast on every CPU" asks for.
#   bench/paths.sh ROUNDS gemm [M K N]         GFLOP/s; reference numpy on OpenBLAS (../shared/bench/sgemm_ref.py)
#   bench/paths.sh ROUNDS train PRESET         ms/step; reference TorchSharp (TORCHSHARP_BENCH=path to its dll), matmul and --sdpa
#   bench/paths.sh ROUNDS generate             tokens/s with the KV cache (gpt2-124m)
# PATHS="avx512 avx2 vector128" picks the paths (a path the CPU lacks is skipped). STEPS=20 for train.
set -euo pipefail
rounds=$1; what=$2; shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
rlm=${RLM:-$here/src/ResidualLM.Cli/bin/Release/net10.0/rlm}
shared=${SHARED:-$(cd "$here/.." && pwd)/shared}
paths=${PATHS:-avx512 avx2 vector128}
steps=${STEPS:-20}
# .NET 10 reads DOTNET_EnableAVX512 (DOTNET_EnableAVX512F is no longer honoured); EnableAVX=0 also turns off FMA.
declare -A env_of=([avx512]="" [avx2]="DOTNET_EnableAVX512=0 DOTNET_EnableAVX512F=0" [vector128]="DOTNET_EnableAVX=0")
field() { grep -o "\"$1\": *\"\?[0-9a-z.]*" | head -1 | sed 's/.*: *"\?//'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
run() { # path, then the rlm arguments; prints "figure isa"
  local path=$1; shift
  local json; json=$(env ${env_of[$path]} "$rlm" "$@" --json)
  echo "$(echo "$json" | field "$metric") $(echo "$json" | field isa)"
}
case $what in
  gemm) m=${1:-256}; k=${2:-768}; n=${3:-2304}; metric=gflops; args=(bench gemm --m "$m" --k "$k" --n "$n") ;;
  train) preset=$1; metric=ms_per_step; args=(bench train --preset "$preset" --steps "$steps") ;;
  generate) metric=tokens_per_s; args=(bench generate --preset gpt2-124m) ;;
  *) echo "usage: bench/paths.sh ROUNDS gemm|train PRESET|generate" >&2; exit 2 ;;
esac
declare -A torchsharp_config=([shakespeare-char]=shakespeare-char-cpu [deep-narrow]=deep-narrow [gpt2-124m]=gpt2-124M)
for ((r = 1; r <= rounds; r++)); do
  declare -A got=()
  line="round $r $what${preset:+ $preset}${m:+ ${m}x${k}x${n}}:"
  for p in $paths; do
    read -r value isa < <(run "$p" "${args[@]}")
    if [[ $isa != "$p" ]]; then line+=" $p: not on this CPU (ran $isa);"; continue; fi
    got[$p]=$value; line+=" $p $value;"
  done
  case $what in
    gemm)
      ref=$(/usr/bin/python3 "$shared/bench/sgemm_ref.py" "$m" "$k" "$n")
      line+=" numpy $ref; avx2/numpy $(ratio "${got[avx2]:-0}" "$ref")x; vector128 ${got[vector128]:--} GFLOP/s" ;;
    train)
      if [[ -n ${TORCHSHARP_BENCH:-} ]]; then
        ts() { dotnet "$TORCHSHARP_BENCH" --config "${torchsharp_config[$preset]}" --steps "$steps" "$@" 2>/dev/null | grep train_step | field ms_per_step_median; }
        plain=$(ts); sdpa=$(ts --sdpa)
        best=$(awk -v a="$plain" -v b="$sdpa" 'BEGIN { print (a < b ? a : b) }')
        line+=" torchsharp $plain (sdpa $sdpa); torchsharp/avx2 $(ratio "$best" "${got[avx2]:-0}")x;"
      fi
      line+=" vector128/avx2 $(ratio "${got[vector128]:-0}" "${got[avx2]:-0}")x" ;;
    generate)
      line+=" vector128/avx2 $(ratio "${got[vector128]:-0}" "${got[avx2]:-0}")x" ;;
  esac
  echo "$line (load $(cut -d' ' -f1 /proc/loadavg))"
done
