#!/usr/bin/env python3
"""Writes Hugging Face GPT-2 folders with random weights and the logits they must give (run by hand:
/usr/bin/python3 tools/reference/gpt2_hf_fixture.py).

The `transformers` package is not installed here, so this file is GPT2LMHeadModel's forward pass written out in plain
torch, following its definition: Conv1D layers store weights (in, out) and compute x @ W + b; activation gelu_new
(tanh approximation), gelu (erf) or gelu_pytorch_tanh; LayerNorm with config.layer_norm_epsilon; attention scores
scaled by 1/sqrt(head size) and masked where the causal buffer h.N.attn.bias is 0; the head is lm_head.weight (V, C)
or, tied, wte.weight.

Variants under tests/ResidualLM.Tests/fixtures/gpt2-hf/<variant>/ (config.json + model.safetensors):
  plain-tied          keys as in the hub's gpt2 file (wte.weight, h.0...), no lm_head (tied), the float32 causal
                      buffers h.N.attn.bias saved alongside, gelu_new, eps 1e-5, n_inner null.
  prefixed-untied     keys as save_pretrained writes them (transformer.wte.weight ...), its own lm_head.weight,
                      exact gelu, n_inner 40 (not 4C), layer_norm_epsilon 1e-3, scalar h.N.attn.masked_bias buffers.
  prefixed-tied-copy  transformer. keys, lm_head.weight an exact copy of wte (so tied), gelu_pytorch_tanh, stored as
                      float16 as many published checkpoints are.
Weights are drawn in float32 (float16 for the last variant, widened exactly); the logits are then computed in float64
from exactly those values, so the C# tests measure only their own float32 round-off. expected.json holds, per variant,
the token ids and the logits (T, V).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_fixture import write_safetensors  # noqa: E402  (the small reference-order writer)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ResidualLM.Tests", "fixtures", "gpt2-hf")
VOCAB, POSITIONS, WIDTH, HEADS, LAYERS = 37, 16, 24, 3, 2
# 16 tokens: the whole context, both ends of the vocabulary, a repeat.
TOKENS = [0, 36, 5, 17, 17, 2, 31, 8, 23, 11, 36, 4, 19, 1, 30, 12]

VARIANTS = {
    "plain-tied": dict(seed=1, prefix="", head="none", activation="gelu_new", eps=1e-5, inner=None,
                       buffers="bias", dtype="F32"),
    "prefixed-untied": dict(seed=2, prefix="transformer.", head="own", activation="gelu", eps=1e-3, inner=40,
                            buffers="masked_bias", dtype="F32"),
    "prefixed-tied-copy": dict(seed=3, prefix="transformer.", head="copy", activation="gelu_pytorch_tanh", eps=1e-5,
                               inner=None, buffers="none", dtype="F16"),
}


def config_json(variant):
    # Every key a transformers 4.x GPT2Config writes, so the loader is tested against the real clutter.
    return {
        "activation_function": variant["activation"],
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": VOCAB - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": VOCAB - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": variant["eps"],
        "model_type": "gpt2",
        "n_ctx": POSITIONS,
        "n_embd": WIDTH,
        "n_head": HEADS,
        "n_inner": variant["inner"],
        "n_layer": LAYERS,
        "n_positions": POSITIONS,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "tie_word_embeddings": variant["head"] != "own",
        "torch_dtype": "float16" if variant["dtype"] == "F16" else "float32",
        "transformers_version": "4.40.0",
        "use_cache": True,
        "vocab_size": VOCAB,
    }


def random_weights(variant):
    """HF names without prefix -> float32 tensors, Conv1D weights (in, out). Scales large enough that every
    nonlinearity (GELU, softmax, LayerNorm) is exercised away from its linear regime."""
    g = torch.Generator().manual_seed(variant["seed"])
    inner = variant["inner"] or 4 * WIDTH

    def normal(*shape, std=0.3, mean=0.0):
        return (mean + std * torch.randn(*shape, generator=g, dtype=torch.float32)).contiguous()

    p = {"wte.weight": normal(VOCAB, WIDTH, std=0.5), "wpe.weight": normal(POSITIONS, WIDTH, std=0.2)}
    for i in range(LAYERS):
        h = f"h.{i}."
        for norm in ("ln_1", "ln_2"):
            p[h + norm + ".weight"] = normal(WIDTH, std=0.2, mean=1.0)
            p[h + norm + ".bias"] = normal(WIDTH, std=0.1)
        p[h + "attn.c_attn.weight"] = normal(WIDTH, 3 * WIDTH, std=0.35)
        p[h + "attn.c_attn.bias"] = normal(3 * WIDTH, std=0.1)
        p[h + "attn.c_proj.weight"] = normal(WIDTH, WIDTH, std=0.2)
        p[h + "attn.c_proj.bias"] = normal(WIDTH, std=0.1)
        p[h + "mlp.c_fc.weight"] = normal(WIDTH, inner, std=0.3)
        p[h + "mlp.c_fc.bias"] = normal(inner, std=0.1)
        p[h + "mlp.c_proj.weight"] = normal(inner, WIDTH, std=0.15)
        p[h + "mlp.c_proj.bias"] = normal(WIDTH, std=0.1)
    p["ln_f.weight"] = normal(WIDTH, std=0.2, mean=1.0)
    p["ln_f.bias"] = normal(WIDTH, std=0.1)
    if variant["head"] == "own":
        p["lm_head.weight"] = normal(VOCAB, WIDTH, std=0.5)
    if variant["dtype"] == "F16":
        # What the file holds is float16; the reference and the C# loader both see its exact float32 widening.
        p = {name: t.to(torch.float16).to(torch.float32) for name, t in p.items()}
    if variant["head"] == "copy":
        p["lm_head.weight"] = p["wte.weight"].clone()
    return p


def activation(name, x):
    if name == "gelu":
        return F.gelu(x)
    # gelu_new and gelu_pytorch_tanh are the same function: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def forward(p, variant, ids):
    """GPT2LMHeadModel.forward for one sequence, float64 throughout. Returns logits (T, V)."""
    d = {name: t.to(torch.float64) for name, t in p.items()}
    eps, t, hs = variant["eps"], len(ids), WIDTH // HEADS
    causal = torch.tril(torch.ones(POSITIONS, POSITIONS, dtype=torch.float64))[:t, :t]  # h.N.attn.bias[0, 0]
    x = d["wte.weight"][torch.tensor(ids)] + d["wpe.weight"][:t]                         # (T, C)
    for i in range(LAYERS):
        h = f"h.{i}."
        a = F.layer_norm(x, (WIDTH,), d[h + "ln_1.weight"], d[h + "ln_1.bias"], eps)
        qkv = a @ d[h + "attn.c_attn.weight"] + d[h + "attn.c_attn.bias"]               # Conv1D: (T, 3C)
        q, k, v = (m.view(t, HEADS, hs).transpose(0, 1) for m in qkv.split(WIDTH, dim=-1))  # (NH, T, HS)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        scores = torch.where(causal.bool(), scores, torch.tensor(torch.finfo(torch.float64).min, dtype=torch.float64))
        y = (scores.softmax(-1) @ v).transpose(0, 1).reshape(t, WIDTH)
        x = x + (y @ d[h + "attn.c_proj.weight"] + d[h + "attn.c_proj.bias"])
        m = F.layer_norm(x, (WIDTH,), d[h + "ln_2.weight"], d[h + "ln_2.bias"], eps)
        m = activation(variant["activation"], m @ d[h + "mlp.c_fc.weight"] + d[h + "mlp.c_fc.bias"])
        x = x + (m @ d[h + "mlp.c_proj.weight"] + d[h + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (WIDTH,), d["ln_f.weight"], d["ln_f.bias"], eps)
    head = d["lm_head.weight"] if "lm_head.weight" in d else d["wte.weight"]
    return x @ head.T                                                                  # (T, V)


def file_items(p, variant):
    items = {}
    for name, tensor in p.items():
        key = name if name == "lm_head.weight" else variant["prefix"] + name
        stored = tensor.to(torch.float16) if variant["dtype"] == "F16" else tensor
        items[key] = (variant["dtype"], list(tensor.shape), stored)
    for i in range(LAYERS):
        # Non-parameter buffers that older transformers versions saved with the weights; loaders must skip them.
        if variant["buffers"] == "bias":
            mask = torch.tril(torch.ones(POSITIONS, POSITIONS, dtype=torch.float32)).view(1, 1, POSITIONS, POSITIONS)
            items[f"{variant['prefix']}h.{i}.attn.bias"] = ("F32", [1, 1, POSITIONS, POSITIONS], mask)
        elif variant["buffers"] == "masked_bias":
            items[f"{variant['prefix']}h.{i}.attn.masked_bias"] = ("F32", [], torch.tensor(-1e4, dtype=torch.float32))
    return items


def main():
    expected = {}
    for name, variant in VARIANTS.items():
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        p = random_weights(variant)
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as file:
            json.dump(config_json(variant), file, indent=2, sort_keys=True)
            file.write("\n")
        write_safetensors(os.path.join(folder, "model.safetensors"), file_items(p, variant), {"format": "pt"})
        logits = forward(p, variant, TOKENS)
        expected[name] = {"tokens": TOKENS, "logits": [[float(v) for v in row] for row in logits.tolist()]}
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as file:
        json.dump(expected, file)
        file.write("\n")


if __name__ == "__main__":
    main()
