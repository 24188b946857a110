#!/usr/bin/env python3
"""Golden fixtures for ResidualLM's models, written by PyTorch (run by hand: python3 tools/reference/models_fixture.py
[--wide | --only NAME ...], where --only writes just the named fixtures and leaves the others as committed).

For tiny configs of each family (GPT under every residual policy, Llama, Encoder) and the book's chapter-4 MLP, writes
tests/ResidualLM.Tests/fixtures/models/<name>.json with: the config (C# property names), every parameter by name,
inputs, targets, logits, loss, the gradient of every parameter, and the losses of 10 AdamW steps.
Weights are drawn in float32 from a seed, rounded to 8 significant digits, and everything is then computed in float64,
so the fixture is the exact answer for the stored weights and the C# tests measure only their own float32 round-off.
Parameter names follow ResidualLM (blocks.0.attn.qkv.weight), so the C# side loads them by name.
"""
import copy
import gzip
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ResidualLM.Tests", "fixtures", "models")
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)


def r8(x):
    return float(f"{x:.8g}")


def tensor_json(t):
    return {"shape": list(t.shape), "data": [r8(v) for v in t.detach().reshape(-1).tolist()]}


# ---- modules, written from the papers (names match ResidualLM) ----------------------------------------------------

class RmsNorm(nn.Module):
    def __init__(self, width, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, width, heads, bias, causal=True, rope=False, context=8):
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.heads, self.causal, self.rope = heads, causal, rope
        hs = width // heads
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
        freqs = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)  # (T, HS): HF Llama's half-split layout
        self.cos, self.sin = emb.cos(), emb.sin()

    def forward(self, x, key_padding=None, value=None):
        """value: maps this block's value projection (B, T, C) to the one attention uses (ResFormer's value residual)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)
        if value is not None:
            v = value(v)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        if self.rope:
            cos, sin = self.cos[:T].to(x.dtype), self.sin[:T].to(x.dtype)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.heads)
        if self.causal:
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        if key_padding is not None:
            att = att.masked_fill(key_padding[:, None, None, :], float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Mlp(nn.Module):
    def __init__(self, width, hidden, bias=True, exact=False):
        super().__init__()
        self.fc = nn.Linear(width, hidden, bias=bias)
        self.proj = nn.Linear(hidden, width, bias=bias)
        self.approximate = "none" if exact else "tanh"  # GptConfig.ExactGelu: the erf form

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate=self.approximate))


class SwiGlu(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.w1 = nn.Linear(width, hidden, bias=False)
        self.w2 = nn.Linear(hidden, width, bias=False)
        self.w3 = nn.Linear(width, hidden, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def cait_epsilon(layers):
    """CaiT (Touvron et al. 2021, section 2.1): LayerScale's initial diagonal, 0.1 up to depth 18, 1e-5 at 24, 1e-6 deeper."""
    return 0.1 if layers <= 18 else 1e-5 if layers <= 24 else 1e-6


HYPER = {"StaticHyper1": (1, False), "StaticHyper2": (2, False), "StaticHyper4": (4, False),
         "DynamicHyper1": (1, True), "DynamicHyper2": (2, True), "DynamicHyper4": (4, True)}


def expansion(mode):
    return HYPER[mode][0] if mode in HYPER else 1


class Block(nn.Module):
    def __init__(self, mode, width, attn, ffn, norm, layers, index=0):
        super().__init__()
        self.mode = mode
        normed = ("PreNorm", "PostNorm", "DeepNorm", "LayerScale", "Admin", "DenseFormer", "ValueResidual", "ResiDual") + tuple(HYPER)
        if mode in HYPER:
            # Hyper-connections (Zhu et al. 2025, appendix pseudocode), one per sublayer k = 2 * index + slot - 1:
            # static [A_m | A_r] with A_m = e_(k mod n), A_r = I, B = ones; dynamic terms s * tanh(norm(H) W), W = 0, s = 0.01.
            self.copies, self.dynamic = HYPER[mode]
            n = self.copies
            for slot in (1, 2):
                alpha = torch.zeros(n, n + 1)
                alpha[(2 * index + slot - 1) % n, 0] = 1.0
                alpha[:, 1:] = torch.eye(n)
                setattr(self, f"alpha{slot}", nn.Parameter(alpha.reshape(-1)))
                setattr(self, f"beta{slot}", nn.Parameter(torch.ones(n)))
                if self.dynamic:
                    setattr(self, f"hnorm{slot}", norm())
                    setattr(self, f"alpha_fn{slot}", nn.Parameter(torch.zeros(width, n + 1)))
                    setattr(self, f"beta_fn{slot}", nn.Parameter(torch.zeros(width)))
                    setattr(self, f"alpha_scale{slot}", nn.Parameter(0.01 * torch.ones(1)))
                    setattr(self, f"beta_scale{slot}", nn.Parameter(0.01 * torch.ones(1)))
        if mode in normed:
            self.norm1 = norm()
        if mode == "ReZero":
            self.gain1 = nn.Parameter(torch.zeros(1))
        if mode == "LayerScale":  # CaiT's gamma_1: one learned weight per channel on the attention edit
            self.scale1 = nn.Parameter(cait_epsilon(layers) * torch.ones(width))
        if mode == "Admin":  # the shortcut weight omega of each sublayer, 1 until profiled
            self.omega1 = nn.Parameter(torch.ones(width))
        self.attn = attn
        if mode in normed:
            self.norm2 = norm()
        if mode == "ReZero":
            self.gain2 = nn.Parameter(torch.zeros(1))
        if mode == "LayerScale":
            self.scale2 = nn.Parameter(cait_epsilon(layers) * torch.ones(width))
        if mode == "Admin":
            self.omega2 = nn.Parameter(torch.ones(width))
        self.ffn = ffn
        self.profile = None  # Admin: a one-element list holding the running ratio during the profiling pass
        self.alpha = (2.0 * layers) ** 0.25  # DeepNet, decoder-only

    def hyper(self, i, H, f):
        """H (B, T, n, C) -> B^T f(norm(A_m^T H)) + A_r^T H, the width and depth connections of the paper."""
        n = self.copies
        alpha = getattr(self, f"alpha{i}").view(n, n + 1)
        beta = getattr(self, f"beta{i}")
        if self.dynamic:
            Hn = getattr(self, f"hnorm{i}")(H)
            alpha = getattr(self, f"alpha_scale{i}") * torch.tanh(Hn @ getattr(self, f"alpha_fn{i}")) + alpha  # (B, T, n, n+1)
            beta = getattr(self, f"beta_scale{i}") * torch.tanh(Hn @ getattr(self, f"beta_fn{i}")) + beta  # (B, T, n)
        mix = alpha.transpose(-1, -2) @ H  # (B, T, n+1, C)
        out = f(getattr(self, f"norm{i}")(mix[..., 0, :]))
        return beta[..., None] * out[..., None, :] + mix[..., 1:, :]  # copy k: beta_k f(...) + (A_r^T H)_k

    def residual(self, i, x, f):
        if self.mode in HYPER:
            return self.hyper(i, x, f)
        norm = getattr(self, f"norm{i}", None)
        if self.mode == "None":
            return f(x)
        if self.mode in ("PreNorm", "DenseFormer", "ValueResidual"):  # the last two mix across depth in decode()
            return x + f(norm(x))
        if self.mode == "ResiDual":  # Xie et al. 2023: x = (x_a, x_d), the post-norm stream and the unnormalized sum
            xa, xd = x
            y = f(xa)
            return norm(xa + y), xd + y
        if self.mode == "PostNorm":
            return norm(x + f(x))
        if self.mode == "ReZero":
            return x + getattr(self, f"gain{i}") * f(x)
        if self.mode == "DeepNorm":
            return norm(self.alpha * x + f(x))
        if self.mode == "LayerScale":  # x + diag(lambda) f(norm(x)): the diagonal matrix as a broadcast product
            return x + getattr(self, f"scale{i}") * f(norm(x))
        if self.mode == "Admin":  # Liu et al. 2020, eq. for b_i: x_i = LN(x_{i-1} * omega_i + f_i(x_{i-1}))
            omega, fx = getattr(self, f"omega{i}"), f(x)
            if self.profile is not None:
                # Profiling (the paper's section 5 and the authors' adaptive-profiling code): omega_i takes the running
                # ratio, which then becomes sqrt(Var[x_{i-1} omega_i] + Var[f_i]), population variances over the batch.
                with torch.no_grad():
                    omega.fill_(self.profile[0])
                    self.profile[0] = math.sqrt((x * omega).var(unbiased=False).item() + fx.var(unbiased=False).item())
            return norm(x * omega + fx)
        raise ValueError(self.mode)

    def forward(self, x, key_padding=None, value=None):
        x = self.residual(1, x, lambda h: self.attn(h, key_padding, value))
        x = self.residual(2, x, self.ffn)
        return x


def depth_weights(mode, layers):
    """The parameters that mix across blocks, one module ("depth") between the blocks and the final norm.
    DenseFormer (Pagliardini et al. 2024): dwa{i}, block i's depth-weighted average over the embedding and the outputs of
    blocks 0..i, identity at init (zeros, then 1 on block i's own output). ResFormer (Zhou et al. 2024): value_mix{i} for
    blocks 1..N-1, the weights of block 0's value projection and block i's own, 0.5 each at init."""
    depth = nn.Module()
    if mode == "DenseFormer":
        for i in range(layers):
            w = torch.zeros(i + 2)
            w[-1] = 1.0
            setattr(depth, f"dwa{i}", nn.Parameter(w))
    if mode == "ValueResidual":
        for i in range(1, layers):
            setattr(depth, f"value_mix{i}", nn.Parameter(torch.full((2,), 0.5)))
    return depth


def decode(model, x):
    """The blocks and the final norm of a decoder (Gpt, Llama) on the embedding x: the hidden state the head reads."""
    mode = model.blocks[0].mode
    n = expansion(mode)
    if n > 1:  # hyper-connections: n copies of the embedding, summed after the last block
        x = x[..., None, :].expand(*x.shape[:-1], n, x.shape[-1])
        for b in model.blocks:
            x = b(x)
        return model.final_norm(x.sum(-2))
    if mode == "DenseFormer":  # each block reads the previous average; the averages weigh the raw outputs X_j
        outputs = [x]
        for i, b in enumerate(model.blocks):
            outputs.append(b(x))
            x = sum(w * X for w, X in zip(getattr(model.depth, f"dwa{i}"), outputs))
        return model.final_norm(x)
    if mode == "ValueResidual":  # block 0's raw value projection V_0, mixed into every later block's
        first = []

        def value(i):
            if i == 0:
                return lambda v: first.append(v) or v
            mix = getattr(model.depth, f"value_mix{i}")
            return lambda v: mix[0] * first[0] + mix[1] * v

        for i, b in enumerate(model.blocks):
            x = b(x, value=value(i))
        return model.final_norm(x)
    if mode == "ResiDual":  # both streams start at the embedding; out = x_a + norm(x_d), the head reads it as is
        xa, xd = x, x
        for b in model.blocks:
            xa, xd = b((xa, xd))
        return xa + model.final_norm(xd)
    for b in model.blocks:
        x = b(x)
    return model.final_norm(x)


class Gpt(nn.Module):
    def __init__(self, c):
        super().__init__()
        w = c["Width"]
        self.token_embedding = nn.Embedding(c["VocabSize"], w)
        self.position_embedding = nn.Embedding(c["ContextLength"], w)
        self.blocks = nn.ModuleList(
            Block(c["Residual"], w, Attention(w, c["HeadCount"], c["QkvBias"]), Mlp(w, c.get("FeedForwardWidth") or 4 * w, exact=c.get("ExactGelu", False)),
                  lambda: nn.LayerNorm(w), c["LayerCount"], index)
            for index in range(c["LayerCount"]))
        if not c["QkvBias"]:  # the book: only the qkv projection lacks a bias
            for b in self.blocks:
                b.attn.proj = nn.Linear(w, w, bias=True)
        if c["Residual"] in ("DenseFormer", "ValueResidual"):
            self.depth = depth_weights(c["Residual"], c["LayerCount"])
        self.final_norm = nn.LayerNorm(w)
        self.tied = c["TieWeights"]
        if not self.tied:
            self.head = nn.Linear(w, c["VocabSize"], bias=False)

    def forward(self, ids):
        T = ids.shape[1]
        x = decode(self, self.token_embedding(ids) + self.position_embedding(torch.arange(T)))
        return x @ self.token_embedding.weight.T if self.tied else self.head(x)


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        w = c["Width"]
        self.token_embedding = nn.Embedding(c["VocabSize"], w)
        self.blocks = nn.ModuleList(
            Block(c["Residual"], w, Attention(w, c["HeadCount"], False, rope=True, context=c["ContextLength"]),
                  SwiGlu(w, c["FeedForwardWidth"]), lambda: RmsNorm(w, c["NormEps"]), c["LayerCount"], index)
            for index in range(c["LayerCount"]))
        if c["Residual"] in ("DenseFormer", "ValueResidual"):
            self.depth = depth_weights(c["Residual"], c["LayerCount"])
        self.final_norm = RmsNorm(w, c["NormEps"])
        self.tied = c["TieWeights"]
        if not self.tied:
            self.head = nn.Linear(w, c["VocabSize"], bias=False)

    def forward(self, ids):
        x = decode(self, self.token_embedding(ids))
        return x @ self.token_embedding.weight.T if self.tied else self.head(x)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        w = c["Width"]
        self.token_embedding = nn.Embedding(c["VocabSize"], w)
        self.position_embedding = nn.Embedding(c["ContextLength"], w)
        self.blocks = nn.ModuleList(
            Block("PreNorm", w, Attention(w, c["HeadCount"], True, causal=False), Mlp(w, 4 * w), lambda: nn.LayerNorm(w), c["LayerCount"])
            for _ in range(c["LayerCount"]))
        self.final_norm = nn.LayerNorm(w)
        self.classifier = nn.Linear(w, c["ClassCount"])

    def forward(self, ids, lengths):
        B, T = ids.shape
        pad = torch.arange(T)[None, :] >= lengths[:, None]  # (B, T) true at padding
        x = self.token_embedding(ids) + self.position_embedding(torch.arange(T))
        for b in self.blocks:
            x = b(x, pad)
        x = self.final_norm(x)
        keep = (~pad).to(x.dtype)[:, :, None]
        pooled = (x * keep).sum(1) / keep.sum(1)  # mean over real positions
        return self.classifier(pooled)


class GeluTanh(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class MlpStack(nn.Module):
    """The chapter-4 demo of "Build a Large Language Model (from Scratch)": Linear + GELU per layer, optional shortcut."""

    def __init__(self, sizes, shortcut):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))
        self.shortcut = shortcut

    def forward(self, x):
        for layer in self.layers:
            y = GeluTanh()(layer(x))
            x = x + y if self.shortcut and x.shape == y.shape else y
        return x


# ---- weights and runs -----------------------------------------------------------------------------------------------

def randomize(model, seed, decimals=None):
    """O(1) activations and non-trivial attention: Linear std 1/sqrt(fan_in), embeddings std 1, perturbed norms and gains.
    decimals: round every weight to that many decimal places (short JSON for the wide fixtures; still exact inputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            n = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if "dwa" in name or "value_mix" in name:  # DenseFormer's and ResFormer's depth weights
                v = 0.5 + 0.3 * n
            elif "norm" in name and name.endswith("weight"):
                v = 1 + 0.1 * n
            elif "norm" in name or name.endswith("bias"):
                v = 0.1 * n
            elif "gain" in name or "scale" in name:
                v = 0.5 + 0.1 * n
            elif "omega" in name:
                v = 1.5 + 0.3 * n
            elif "_fn" in name:  # hyper-connections' dynamic weights
                v = 0.5 * n / math.sqrt(p.shape[0])
            elif "alpha" in name or "beta" in name:  # hyper-connections' static mixing
                v = 0.5 + 0.3 * n
            elif "embedding" in name:
                v = n
            else:
                v = n / math.sqrt(p.shape[1])
            p.copy_(round_tensor(v if decimals is None else torch.round(v.double(), decimals=decimals)))


def round_tensor(t):
    return torch.tensor([r8(v) for v in t.reshape(-1).tolist()], dtype=torch.float64).reshape(t.shape)


def adamw_losses(model, loss_fn, steps=10):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAMW["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=ADAMW["lr"], betas=ADAMW["betas"], eps=ADAMW["eps"])
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(r8(loss.item()))
    return losses


def record(name, family, config, model, loss_fn, output_fn, inputs, compress=False):
    model.zero_grad()
    out = output_fn()
    loss = loss_fn()
    loss.backward()
    fixture = {
        "name": name, "family": family, "config": config, **inputs,
        "parameters": {n: tensor_json(p) for n, p in model.named_parameters()},
        "output": tensor_json(out), "loss": r8(loss.item()),
        "gradients": {n: tensor_json(p.grad) for n, p in model.named_parameters()},
        "adamw": {"lr": ADAMW["lr"], "beta1": ADAMW["betas"][0], "beta2": ADAMW["betas"][1], "eps": ADAMW["eps"],
                  "weight_decay": ADAMW["weight_decay"], "losses": adamw_losses(model, loss_fn)},
    }
    path = os.path.join(OUT, name + (".json.gz" if compress else ".json"))
    text = json.dumps(fixture, separators=(",", ":")).encode()
    with open(path, "wb") as f:  # gzip without a name or time stamp: the same bytes on every run
        f.write(gzip.compress(text, compresslevel=9, mtime=0) if compress else text)
    print(f"{path}: loss {fixture['loss']}, {os.path.getsize(path) // 1024} KB")
    return fixture


def token_batch(vocab, seed, B=2, T=5, ignore=True):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (B, T), generator=g)
    targets = torch.randint(0, vocab, (B, T), generator=g)
    if ignore:
        targets[1, 2] = -100  # an ignored position, as PyTorch's ignore_index
    return ids, targets


def decoder_fixture(name, family, config, seed, time=5, decimals=None, compress=False, extra=None):
    """extra(model, ids): more fields for the fixture, computed before the gradients and the AdamW steps."""
    model = (Gpt if family == "gpt" else Llama)(config).double()
    randomize(model, seed, decimals)
    ids, targets = token_batch(config["VocabSize"], seed + 1, T=time)
    loss_fn = lambda: F.cross_entropy(model(ids).reshape(-1, config["VocabSize"]), targets.reshape(-1))
    inputs = {"batch": 2, "time": time, "ids": ids.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist()}
    record(name, family, config, model, loss_fn, lambda: model(ids), dict(inputs, **(extra(model, ids) if extra else {})), compress)


def admin_profile(model, ids):
    """Admin's profiling pass on a copy of the model (ids: the fixture's own batch): the omega every sublayer gets, in order."""
    profiled = copy.deepcopy(model)
    running = [1.0]
    for b in profiled.blocks:
        b.profile = running
    with torch.no_grad():
        profiled(ids)
    return {"admin_omega": [r8(getattr(b, f"omega{i}")[0].item()) for b in profiled.blocks for i in (1, 2)]}


WIDE = dict(VocabSize=11, ContextLength=20, Width=64, HeadCount=4, LayerCount=1, Dropout=0.0)


def wide_fixtures():
    """Models at least one Vector512 wide (the 12-wide ones only reach the kernels' scalar tails): width 64, 4 heads of
    16, feed-forward 72 (a 512-bit body plus a tail), 19 positions (not a multiple of 16). One layer, weights rounded to
    3 decimals (the reference still computes on exactly the stored values) and gzip keep each file near 200 KB."""
    decoder_fixture("gpt-prenorm-wide", "gpt", dict(WIDE, Residual="PreNorm", QkvBias=True, TieWeights=False, FeedForwardWidth=72), 50,
                    time=19, decimals=3, compress=True)
    decoder_fixture("llama-wide", "llama", dict(WIDE, Residual="PreNorm", FeedForwardWidth=72, NormEps=1e-5, TieWeights=False), 51,
                    time=19, decimals=3, compress=True)


BASE = dict(VocabSize=11, ContextLength=8, Width=12, HeadCount=2, LayerCount=2, Dropout=0.0)

# Policies added after the first fixtures: each its own seed, gzip to keep the files at a few tens of KB.
POLICY_FIXTURES = {
    "gpt-layerscale": lambda: decoder_fixture("gpt-layerscale", "gpt", dict(BASE, Residual="LayerScale", QkvBias=False, TieWeights=False), 60,
                                              compress=True),
    "gpt-admin": lambda: decoder_fixture("gpt-admin", "gpt", dict(BASE, Residual="Admin", QkvBias=False, TieWeights=False), 61,
                                         compress=True, extra=admin_profile),
    "gpt-shc2": lambda: decoder_fixture("gpt-shc2", "gpt", dict(BASE, Residual="StaticHyper2", QkvBias=False, TieWeights=False), 62,
                                        compress=True),
    "gpt-dhc4": lambda: decoder_fixture("gpt-dhc4", "gpt", dict(BASE, Residual="DynamicHyper4", QkvBias=False, TieWeights=False), 63,
                                        compress=True),
    "llama-dhc2": lambda: decoder_fixture("llama-dhc2", "llama", dict(BASE, Residual="DynamicHyper2", FeedForwardWidth=20, NormEps=1e-5,
                                                                      TieWeights=False), 64, compress=True),
    "gpt-denseformer": lambda: decoder_fixture("gpt-denseformer", "gpt", dict(BASE, LayerCount=3, Residual="DenseFormer", QkvBias=False,
                                                                             TieWeights=False), 65, compress=True),
    "gpt-valueresidual": lambda: decoder_fixture("gpt-valueresidual", "gpt", dict(BASE, LayerCount=3, Residual="ValueResidual",
                                                                                 QkvBias=False, TieWeights=False), 66, compress=True),
    "gpt-resi-dual": lambda: decoder_fixture("gpt-resi-dual", "gpt", dict(BASE, Residual="ResiDual", QkvBias=False, TieWeights=False), 67,
                                             compress=True),
    "llama-valueresidual": lambda: decoder_fixture("llama-valueresidual", "llama", dict(BASE, LayerCount=3, Residual="ValueResidual",
                                                                                       FeedForwardWidth=20, NormEps=1e-5,
                                                                                       TieWeights=False), 68, compress=True),
    "llama-layerscale": lambda: decoder_fixture("llama-layerscale", "llama", dict(BASE, Residual="LayerScale", FeedForwardWidth=20,
                                                                                  NormEps=1e-5, TieWeights=False), 70, compress=True),
    "llama-admin": lambda: decoder_fixture("llama-admin", "llama", dict(BASE, Residual="Admin", FeedForwardWidth=20, NormEps=1e-5,
                                                                        TieWeights=False), 71, compress=True, extra=admin_profile),
    "llama-denseformer": lambda: decoder_fixture("llama-denseformer", "llama", dict(BASE, LayerCount=3, Residual="DenseFormer",
                                                                                    FeedForwardWidth=20, NormEps=1e-5,
                                                                                    TieWeights=False), 72, compress=True),
    # The exact (erf) GELU over a 72-wide hidden layer (a 512-bit body plus a tail), as the wide fixtures are shaped.
    "gpt-erf-wide": lambda: decoder_fixture("gpt-erf-wide", "gpt", dict(WIDE, Residual="PreNorm", QkvBias=True, TieWeights=False,
                                                                        FeedForwardWidth=72, ExactGelu=True), 74, time=19, decimals=3,
                                            compress=True),
    "llama-resi-dual": lambda: decoder_fixture("llama-resi-dual", "llama", dict(BASE, Residual="ResiDual", FeedForwardWidth=20,
                                                                                NormEps=1e-5, TieWeights=False), 73, compress=True),
}


def main():
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] == ["--wide"]:  # only the wide fixtures (the others stay as committed)
        wide_fixtures()
        return
    if sys.argv[1:2] == ["--only"]:
        for name in sys.argv[2:]:
            POLICY_FIXTURES[name]()
        return
    wide_fixtures()
    base = BASE
    decoder_fixture("gpt-prenorm-tied", "gpt", dict(base, Residual="PreNorm", QkvBias=True, TieWeights=True), 10)
    for i, mode in enumerate(["None", "PreNorm", "PostNorm", "ReZero", "DeepNorm"]):
        decoder_fixture(f"gpt-{mode.lower()}", "gpt", dict(base, Residual=mode, QkvBias=False, TieWeights=False), 20 + i)
    decoder_fixture("llama", "llama", dict(base, Residual="PreNorm", FeedForwardWidth=20, NormEps=1e-5, TieWeights=False), 30)
    decoder_fixture("llama-tied", "llama", dict(base, Residual="PreNorm", FeedForwardWidth=20, NormEps=1e-5, TieWeights=True), 31)
    for write in POLICY_FIXTURES.values():
        write()

    ec = dict(VocabSize=11, ContextLength=8, Width=12, HeadCount=2, LayerCount=2, ClassCount=3, Dropout=0.0)
    enc = Encoder(ec).double()
    randomize(enc, 40)
    ids, _ = token_batch(11, 41, ignore=False)
    lengths = torch.tensor([5, 3])
    labels = torch.tensor([2, 0])
    record("encoder", "encoder", ec, enc, lambda: F.cross_entropy(enc(ids, lengths), labels), lambda: enc(ids, lengths),
           {"batch": 2, "time": 5, "ids": ids.reshape(-1).tolist(), "lengths": lengths.tolist(), "targets": labels.tolist()})

    # Chapter 4 of the book: seed 123, PyTorch's default Linear init in float32, input [[1, 0, -1]], target [[0]], MSE.
    sizes = [3, 3, 3, 3, 3, 1]
    for shortcut in (False, True):
        torch.manual_seed(123)
        torch.set_default_dtype(torch.float32)
        mlp = MlpStack(sizes, shortcut)
        torch.set_default_dtype(torch.float64)
        mlp = mlp.double()
        with torch.no_grad():
            for p in mlp.parameters():
                p.copy_(round_tensor(p))
        x = torch.tensor([[1.0, 0.0, -1.0]])
        target = torch.tensor([[0.0]])
        name = "mlp-shortcut" if shortcut else "mlp-plain"
        config = dict(LayerSizes=sizes, Activation="Gelu", Shortcut=shortcut)
        fixture = record(name, "mlp", config, mlp, lambda: F.mse_loss(mlp(x), target), lambda: mlp(x),
                         {"input": tensor_json(x), "target": tensor_json(target)})
        for n, g in fixture["gradients"].items():  # the book prints 0.000202 ... 0.00505 and 0.2217 ... 1.3259
            if n.endswith("weight"):
                print(f"  {n} mean |grad| = {sum(abs(v) for v in g['data']) / len(g['data']):.6g}")


if __name__ == "__main__":
    main()
