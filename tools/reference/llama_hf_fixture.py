#!/usr/bin/env python3
"""Writes Hugging Face Llama-family folders with random weights, and the logits, loss and every gradient they must give
(run by hand: /usr/bin/python3 tools/reference/llama_hf_fixture.py).

The `transformers` package is not installed here, so this file is the forward pass of LlamaForCausalLM /
Qwen2ForCausalLM written out in plain torch from the semantics of their modeling code:
- RMSNorm: w * x / sqrt(mean(x^2) + eps), over the last dimension.
- q/k/v/o projections are nn.Linear (weight (out, in), y = x W^T + b): q_proj (NH*HD, C), k_proj and v_proj
  (NKV*HD, C), o_proj (C, NH*HD). Llama's attention_bias puts a bias on all four; Qwen2 has q/k/v biases only.
- Rotary positions in the "rotate half" convention: inv_freq = 1 / theta^(arange(0, HD, 2) / HD) (float32, as the HF
  code computes it), Llama 3 scaling of inv_freq when rope_scaling.rope_type is "llama3"; cos/sin of
  cat(freqs, freqs); x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x[HD/2:], x[:HD/2]).
- Grouped-query attention: repeat_kv repeats key/value head g for query heads g*R .. g*R+R-1 (R = NH / NKV).
- Causal softmax(q k^T / sqrt(HD)) v, heads merged, o_proj; MLP down(silu(gate(x)) * up(x)); final norm; lm_head or,
  tied, embed_tokens.
- Loss: mean cross-entropy of logits (B*T, V) against the next-token targets.

Weights are drawn in float32 (bfloat16 for the bf16 case, widened exactly) and written as the file stores them; logits,
loss and gradients are then computed in float64 from exactly those values, so the C# tests measure only their own
float32 round-off. Per case: tests/ResidualLM.Tests/fixtures/llama-hf/<case>/ holds config.json, the weights
(model.safetensors, or two shards and model.safetensors.index.json) and expected.safetensors with "logits" (B, T, V),
"loss" (1), "ids" and "targets" (B, T) as F32, and "grad.<hf name>" for every parameter.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_fixture import write_safetensors  # noqa: E402  (the small reference-order writer)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ResidualLM.Tests", "fixtures", "llama-hf")
BATCH, TIME = 2, 7

CASES = {
    # GQA 6 query heads over 2 key/value heads, own lm_head.
    "llama-gqa-6-2": dict(seed=11, model_type="llama", vocab=29, hidden=24, heads=6, kv=2, head_dim=None, inter=40,
                          layers=2, tied=False, attention_bias=False, mlp_bias=False, theta=10000.0, eps=1e-5,
                          scaling=None, dtype="F32", shards=1),
    # Multi-query attention (4/1), tied head, Llama 3 rope scaling with a short original context so it acts at T = 7.
    "llama-mqa-4-1-tied-llama3": dict(seed=12, model_type="llama", vocab=31, hidden=32, heads=4, kv=1, head_dim=None,
                                      inter=48, layers=2, tied=True, attention_bias=False, mlp_bias=False,
                                      theta=500000.0, eps=1e-5, dtype="F32", shards=1,
                                      scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                   high_freq_factor=4.0, original_max_position_embeddings=8)),
    # Qwen2: q/k/v biases, GQA 4/2, tied, sharded over two files with an index.
    "qwen2-bias-sharded": dict(seed=13, model_type="qwen2", vocab=37, hidden=32, heads=4, kv=2, head_dim=None,
                               inter=56, layers=2, tied=True, attention_bias=None, mlp_bias=False, theta=1000000.0,
                               eps=1e-6, scaling=None, dtype="F32", shards=2),
    # An explicit head_dim (8, where hidden / heads = 4), Llama's attention_bias and mlp_bias.
    "llama-head-dim-biases": dict(seed=14, model_type="llama", vocab=23, hidden=16, heads=4, kv=2, head_dim=8, inter=24,
                                  layers=2, tied=False, attention_bias=True, mlp_bias=True, theta=10000.0, eps=1e-6,
                                  scaling=None, dtype="F32", shards=1),
    # bfloat16 storage, 64 wide (a full 512-bit vector), one layer, GQA 4/2.
    "llama-bf16-64": dict(seed=15, model_type="llama", vocab=32, hidden=64, heads=4, kv=2, head_dim=None, inter=64,
                          layers=1, tied=False, attention_bias=False, mlp_bias=False, theta=10000.0, eps=1e-5,
                          scaling=None, dtype="BF16", shards=1),
}


def head_dim(c):
    return c["head_dim"] or c["hidden"] // c["heads"]


def qkv_bias(c):
    return c["model_type"] == "qwen2" or bool(c["attention_bias"])


def o_bias(c):
    return c["model_type"] != "qwen2" and bool(c["attention_bias"])


def config_json(c):
    j = {
        "architectures": ["Qwen2ForCausalLM" if c["model_type"] == "qwen2" else "LlamaForCausalLM"],
        "model_type": c["model_type"], "hidden_act": "silu", "hidden_size": c["hidden"],
        "intermediate_size": c["inter"], "num_attention_heads": c["heads"], "num_key_value_heads": c["kv"],
        "num_hidden_layers": c["layers"], "max_position_embeddings": 64, "rms_norm_eps": c["eps"],
        "rope_theta": c["theta"], "rope_scaling": c["scaling"], "tie_word_embeddings": c["tied"],
        "vocab_size": c["vocab"], "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": c["dtype"].lower(),
        "initializer_range": 0.02, "use_cache": True,
    }
    if c["head_dim"] is not None:
        j["head_dim"] = c["head_dim"]
    if c["model_type"] == "qwen2":
        j["use_sliding_window"] = False
        j["sliding_window"] = 32
    else:
        j["attention_bias"] = bool(c["attention_bias"])
        j["mlp_bias"] = bool(c["mlp_bias"])
    return j


def random_weights(c):
    """HF name -> float32 tensor (already rounded to bfloat16 for the bf16 case), in HF's file order."""
    g = torch.Generator().manual_seed(c["seed"])
    hd, C = head_dim(c), c["hidden"]

    def normal(*shape, std=0.2, mean=0.0):
        t = mean + std * torch.randn(*shape, generator=g, dtype=torch.float32)
        return t.to(torch.bfloat16).to(torch.float32) if c["dtype"] == "BF16" else t

    p = {"model.embed_tokens.weight": normal(c["vocab"], C, std=0.3)}
    for i in range(c["layers"]):
        h = f"model.layers.{i}."
        p[h + "input_layernorm.weight"] = normal(C, mean=1.0)
        p[h + "self_attn.q_proj.weight"] = normal(c["heads"] * hd, C, std=0.6 / math.sqrt(C))
        p[h + "self_attn.k_proj.weight"] = normal(c["kv"] * hd, C, std=0.6 / math.sqrt(C))
        p[h + "self_attn.v_proj.weight"] = normal(c["kv"] * hd, C, std=1.0 / math.sqrt(C))
        if qkv_bias(c):
            p[h + "self_attn.q_proj.bias"] = normal(c["heads"] * hd)
            p[h + "self_attn.k_proj.bias"] = normal(c["kv"] * hd)
            p[h + "self_attn.v_proj.bias"] = normal(c["kv"] * hd)
        p[h + "self_attn.o_proj.weight"] = normal(C, c["heads"] * hd, std=1.0 / math.sqrt(c["heads"] * hd))
        if o_bias(c):
            p[h + "self_attn.o_proj.bias"] = normal(C)
        p[h + "post_attention_layernorm.weight"] = normal(C, mean=1.0)
        for name, shape in (("gate_proj", (c["inter"], C)), ("up_proj", (c["inter"], C)), ("down_proj", (C, c["inter"]))):
            p[h + f"mlp.{name}.weight"] = normal(*shape, std=1.0 / math.sqrt(shape[1]))
            if c["mlp_bias"]:
                p[h + f"mlp.{name}.bias"] = normal(shape[0])
    p["model.norm.weight"] = normal(C, mean=1.0)
    if not c["tied"]:
        p["lm_head.weight"] = normal(c["vocab"], C, std=1.0 / math.sqrt(C))
    return p


def inverse_frequencies(c):
    hd = head_dim(c)
    inv = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))   # float32, as HF
    s = c["scaling"]
    if s is None:
        return inv.to(torch.float64)
    # _compute_llama3_parameters
    factor, low, high, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled).to(torch.float64)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def linear(d, name, x):
    y = x @ d[name + ".weight"].T
    return y + d[name + ".bias"] if name + ".bias" in d else y


def forward(d, c, ids):
    """(B, T) ids -> logits (B, T, V), float64."""
    B, T = ids.shape
    hd, H, KV = head_dim(c), c["heads"], c["kv"]
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inverse_frequencies(c))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()                                                   # (T, HD)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    x = d["model.embed_tokens.weight"][ids]                                           # (B, T, C)
    for i in range(c["layers"]):
        h = f"model.layers.{i}."
        a = rms_norm(x, d[h + "input_layernorm.weight"], c["eps"])
        q = linear(d, h + "self_attn.q_proj", a).view(B, T, H, hd).transpose(1, 2)
        k = linear(d, h + "self_attn.k_proj", a).view(B, T, KV, hd).transpose(1, 2)
        v = linear(d, h + "self_attn.v_proj", a).view(B, T, KV, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = H // KV
        k = k[:, :, None].expand(B, KV, rep, T, hd).reshape(B, H, T, hd)            # repeat_kv
        v = v[:, :, None].expand(B, KV, rep, T, hd).reshape(B, H, T, hd)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        scores = scores.masked_fill(~mask, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + linear(d, h + "self_attn.o_proj", y)
        m = rms_norm(x, d[h + "post_attention_layernorm.weight"], c["eps"])
        m = linear(d, h + "mlp.down_proj", F.silu(linear(d, h + "mlp.gate_proj", m)) * linear(d, h + "mlp.up_proj", m))
        x = x + m
    x = rms_norm(x, d["model.norm.weight"], c["eps"])
    head = d["lm_head.weight"] if "lm_head.weight" in d else d["model.embed_tokens.weight"]
    return x @ head.T


def main():
    for name, c in CASES.items():
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        for old in os.listdir(folder):
            os.remove(os.path.join(folder, old))
        p = random_weights(c)
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as file:
            json.dump(config_json(c), file, indent=2)
            file.write("\n")
        torch_dtype = torch.bfloat16 if c["dtype"] == "BF16" else torch.float32
        items = {k: (c["dtype"], list(t.shape), t.to(torch_dtype)) for k, t in p.items()}
        if c["shards"] == 1:
            write_safetensors(os.path.join(folder, "model.safetensors"), items, {"format": "pt"})
        else:
            names = list(items)
            split = len(names) // 2
            weight_map = {}
            for s, part in enumerate((names[:split], names[split:])):
                shard = f"model-{s + 1:05d}-of-00002.safetensors"
                write_safetensors(os.path.join(folder, shard), {k: items[k] for k in part}, {"format": "pt"})
                weight_map.update({k: shard for k in part})
            with open(os.path.join(folder, "model.safetensors.index.json"), "w", encoding="utf-8") as file:
                json.dump({"metadata": {"total_size": sum(t.numel() * 4 for t in p.values())}, "weight_map": weight_map}, file, indent=2)
                file.write("\n")

        g = torch.Generator().manual_seed(c["seed"] + 100)
        ids = torch.randint(0, c["vocab"], (BATCH, TIME), generator=g)
        targets = torch.randint(0, c["vocab"], (BATCH, TIME), generator=g)
        d = {k: t.to(torch.float64).requires_grad_(True) for k, t in p.items()}
        logits = forward(d, c, ids)
        loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), targets.reshape(-1))
        loss.backward()
        expected = {
            "logits": ("F32", list(logits.shape), logits.detach().to(torch.float32)),
            "loss": ("F32", [1], loss.detach().reshape(1).to(torch.float32)),
            "ids": ("F32", [BATCH, TIME], ids.to(torch.float32)),
            "targets": ("F32", [BATCH, TIME], targets.to(torch.float32)),
        }
        for k, t in d.items():
            expected["grad." + k] = ("F32", list(t.shape), t.grad.to(torch.float32))
        write_safetensors(os.path.join(folder, "expected.safetensors"), expected, {"loss": repr(float(loss))})
        print(name, "loss", float(loss), "params", sum(t.numel() for t in p.values()))


if __name__ == "__main__":
    main()
