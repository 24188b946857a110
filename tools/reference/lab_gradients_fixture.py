#!/usr/bin/env python3
"""Writes the fixture of `rlm lab gradients --init`: tests/ResidualLM.Tests/fixtures/lab/gradients-init.safetensors
(random float32 weights of the chapter-4 stack, sizes [3,3,3,3,3,1], PyTorch (out, in) layout, names layers.{i}.weight
and layers.{i}.bias) and gradients-expected.json (mean |dL/dW| of each layer's weight, with and without shortcuts).

The weights are drawn by nn.Linear's default init (U(-1/sqrt(in), 1/sqrt(in))) from torch.manual_seed(2024), stored
as float32; the gradients are then computed in float64 from exactly those float32 values, so the expectation carries
no float32 rounding of its own. Model: y = GELU_tanh(Linear(x)) per layer, x = x + y where shapes match (shortcut),
input [[1, 0, -1]], target [[0]], MSE loss, as in "Build a Large Language Model (from Scratch)", chapter 4.

Run: /usr/bin/python3 tools/reference/lab_gradients_fixture.py
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_fixture import write_safetensors  # noqa: E402  (the small writer shared by the fixtures)

OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ResidualLM.Tests", "fixtures", "lab")
SIZES = [3, 3, 3, 3, 3, 1]


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh((2.0 / torch.pi) ** 0.5 * (x + 0.044715 * x ** 3)))


def mean_abs_gradients(layers, shortcut):
    x = torch.tensor([[1.0, 0.0, -1.0]], dtype=torch.float64)
    target = torch.tensor([[0.0]], dtype=torch.float64)
    for layer in layers:
        layer.zero_grad()
    h = x
    for layer in layers:
        y = gelu_tanh(layer(h))
        h = h + y if shortcut and h.shape == y.shape else y
    nn.functional.mse_loss(h, target).backward()
    return [layer.weight.grad.abs().mean().item() for layer in layers]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(2024)
    layers = nn.ModuleList(nn.Linear(SIZES[i], SIZES[i + 1]) for i in range(len(SIZES) - 1))
    items = {}
    for name, p in layers.named_parameters():
        items["layers." + name] = ("F32", list(p.shape), p.detach().to(torch.float32))
    write_safetensors(os.path.join(OUT_DIR, "gradients-init.safetensors"), items, {"format": "pt"})
    layers = layers.double()  # float64 from the stored float32 values
    expected = {"without_shortcut": mean_abs_gradients(layers, False), "with_shortcut": mean_abs_gradients(layers, True)}
    with open(os.path.join(OUT_DIR, "gradients-expected.json"), "w", encoding="utf-8") as file:
        json.dump(expected, file, indent=1)
        file.write("\n")
    print(json.dumps(expected))


if __name__ == "__main__":
    main()
