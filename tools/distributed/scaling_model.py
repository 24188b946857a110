#!/usr/bin/env python3
"""Predicted throughput of `rlm train --distributed mpi` on N machines, from figures measured on one.

The model (docs/distributed.md): every machine runs the measured single-machine step (same batch per machine, so the
global batch grows with N) and then averages the gradients with a ring all-reduce, which sends and receives
2 (N - 1) / N x 4 bytes per parameter on every machine's link, in 2 (N - 1) messages:

    t_comm(N) = 2 (N - 1) / N * 4 P / bandwidth + 2 (N - 1) * latency
    no overlap:       t_step(N) = t_compute + t_comm(N)
    overlapped:       t_step(N) = t_compute (1 - b) + max(b t_compute, t_comm(N))
                      (buckets reduced while backward runs: at best the all-reduce hides behind the backward
                      share b of the step, about 2/3 for a transformer; an upper bound on what bucketing can give)
    tokens/s(N) = N * tokens_per_step / t_step(N)

Usage: scaling_model.py --name gpt2-124m --params 124439808 --step-seconds 3.3 --tokens-per-step 1024
"""
import argparse


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--params", type=int, required=True, help="parameters (gradients are float32)")
    ap.add_argument("--step-seconds", type=float, required=True, help="measured step time on one machine")
    ap.add_argument("--tokens-per-step", type=int, required=True, help="tokens one machine trains on per step")
    ap.add_argument("--latency-us", type=float, default=30.0, help="per-message latency (default 30 us: TCP over Ethernet)")
    ap.add_argument("--backward-fraction", type=float, default=2 / 3, help="share of the step spent in backward (default 2/3)")
    ap.add_argument("--nodes", default="1,2,4,8,16,32,64")
    ap.add_argument("--gbits", default="10,100")
    args = ap.parse_args()

    grad_bytes = 4 * args.params
    single = args.tokens_per_step / args.step_seconds
    print(f"{args.name}: {args.params:,} parameters = {grad_bytes / 1e6:.0f} MB of gradients; one machine: "
          f"{args.step_seconds:.3f} s/step, {single:,.0f} tokens/s; latency {args.latency_us:g} us per message")
    gbits = [float(g) for g in args.gbits.split(",")]
    cols = []
    for g in gbits:
        cols += [f"{g:g} Gb/s: all-reduce ms", "tokens/s", "efficiency (overlapped)"]
    print("| machines | " + " | ".join(cols) + " |")
    print("|---" * (1 + len(cols)) + "|")
    for n in (int(x) for x in args.nodes.split(",")):
        cells = []
        for g in gbits:
            bandwidth = g * 1e9 / 8
            comm = 0.0 if n == 1 else 2 * (n - 1) / n * grad_bytes / bandwidth + 2 * (n - 1) * args.latency_us * 1e-6
            serial = n * args.tokens_per_step / (args.step_seconds + comm)
            b = args.backward_fraction * args.step_seconds
            overlapped = n * args.tokens_per_step / (args.step_seconds - b + max(b, comm))
            cells += [f"{comm * 1000:,.0f}", f"{serial:,.0f}", f"{serial / (n * single) * 100:.0f}% ({overlapped / (n * single) * 100:.0f}%)"]
        print(f"| {n} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
