#!/usr/bin/env python3
"""Writes tests/ResidualLM.Tests/fixtures/torch/manual-seed-linear.json: the weights PyTorch's torch.manual_seed(seed)
gives the book's chapter-4 network (nn.Linear layers 3-3-3-3-3-1, created in order), for seeds 123 and 7.
Run by hand: /usr/bin/python3 tools/reference/torch_init_fixture.py"""
import json, os, torch
sizes = [3, 3, 3, 3, 3, 1]
out = {}
for seed in (123, 7):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(sizes[i], sizes[i + 1]) for i in range(5)]
    out[str(seed)] = {f"layers.{i}.{k}": [float(v) for v in getattr(l, k).detach().reshape(-1).tolist()] for i, l in enumerate(layers) for k in ("weight", "bias")}
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ResidualLM.Tests", "fixtures", "torch", "manual-seed-linear.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
