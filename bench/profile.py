#!/usr/bin/env python3
"""Where the CPU time of an rlm command goes, by kernel family: perf samples (cpu-clock, both threads) grouped by symbol.

Usage: bench/profile.py [--delay MS] -- rlm bench train --preset deep-narrow --steps 150
       bench/profile.py --delay 8000 -- rlm bench generate --preset gpt2-124m --reps 10
Needs Linux perf (Debian: linux-perf). The .NET JIT writes /tmp/perf-PID.map for symbols (DOTNET_PerfMapEnabled=1;
W^X is turned off so that perf can resolve JIT code). --delay skips the first MS milliseconds (model initialisation:
about 6 s for gpt2-124m); otherwise run enough steps to bury it.
"""
import collections, os, re, subprocess, sys, tempfile

GROUPS = [  # (label, regex on the symbol), first match wins
    ("GEMM micro-kernel", r"GemmKernels::"),
    ("matrix-vector and few-row products (weights streamed once)", r"GemmVector::|GemmSmallM::|GemmElements::"),
    ("GEMM packing and blocking", r"GemmPacking::|GemmDriver::"),
    ("attention", r"Attention|DecodeAttention"),
    ("LayerNorm / RMSNorm", r"Normalization::"),
    ("GELU and other activations", r"Activations::"),
    ("softmax / cross-entropy", r"Softmax::"),
    ("AdamW", r"Optimizer::"),
    ("screened head / decoding", r"ScreenedHead|QuantizedRows|DecodeSession"),
    ("element-wise (TensorPrimitives)", r"System\.Numerics\.Tensors"),
    ("memset / memcpy", r"__mem(set|move|cpy)"),
    ("initialisation (random weights)", r"Rng::|Tensor::Normal|LanguageModel::Redraw|__cos|__sin|__log|__ieee754"),
    ("thread pool (spinning, waiting)", r"GemmThreads::|SpinWait|Thread::(Yield|SpinWait|Sleep)|do_sched_yield"),
    ("graph, tensors, ops bookkeeping", r"ResidualLM\.(Ops|Autograd|Tensors|Nn|Models|Training)"),
    ("operating system", r"^\[k\]|kernel\.kallsyms"),
    (".NET runtime and base library (GC helpers, spin waits; no symbols)", r"libcoreclr|System\.Private\.CoreLib|libclrjit"),
]


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    command = argv[argv.index("--") + 1:]
    options = argv[:argv.index("--")]
    delay = options[options.index("--delay") + 1] if "--delay" in options else "0"
    data = tempfile.mktemp(suffix=".perf")
    env = dict(os.environ, DOTNET_PerfMapEnabled="1", DOTNET_EnableWriteXorExecute="0")
    # perf 6.1 refuses "-D 0" (it reads 0 as no value): pass the delay only when there is one.
    wait = ["-D", delay] if delay != "0" else []
    subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", *wait, "-o", data, "--"] + command, env=env, check=True)
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio"],
                            capture_output=True, text=True, check=True).stdout
    os.unlink(data)
    shares = collections.Counter()
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(.*?)\s+(\[[.k]\])\s+(.*)", line)
        if not m:
            continue
        share, where = float(m.group(1)), m.group(3) + " " + m.group(4) + " " + m.group(2)
        label = next((g for g, rx in GROUPS if re.search(rx, where)), "other")
        shares[label] += share
    print("| where | share of CPU samples |")
    print("|---|---:|")
    for label, share in shares.most_common():
        print(f"| {label} | {share:.1f}% |")


if __name__ == "__main__":
    main()
