"""Fixtures for chapter 05 (the whole GPT-2): an independent GPT-2 written directly in PyTorch.

transformers is not installed (Debian 12 has no package), so this is our own small GPT-2, written
from the Hugging Face weight names and conventions (Conv1D: y = x @ W + b with W of shape [in, out];
tanh GELU; pre-LN blocks; the language-model head tied to wte). It uses torch's own layer_norm,
softmax and cross_entropy, and torch.autograd for every gradient, and computes in float64 so the
fixture holds the exact answer for the float32 weights it stores.

Writes (all small):
  tests/fixtures/05_hf_tiny/         config.json + model.safetensors: F32, names with the
                                     'transformer.' prefix, lm_head.weight, attn.bias/masked_bias
                                     buffers, as GPT2LMHeadModel.state_dict() has them
  tests/fixtures/05_hf_tiny_f16/     the same weights in F16
  tests/fixtures/05_hf_tiny_bf16/    the same weights in BF16, without prefix
  tests/fixtures/05_model.safetensors  tokens, targets, logits, loss and the gradient of every
                                     parameter ('grad.<name>'), the loss with some targets ignored,
                                     and the losses of the F16/BF16 weights

Usage:
  /usr/bin/python3 tests/reference/05_model.py               # (re)writes the fixtures
  /usr/bin/python3 tests/reference/05_model.py --check DIR   # loads a model directory written by the
      C++ program (config.json + model.safetensors) and prints its loss on the fixture's tokens; with
      --expect LOSS it exits non-zero unless that loss matches to 1e-5 relative.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

from fixture_io import fixture_path, save

# The tiny configuration of the parity tests (2 layers, 4 heads, 64 channels, context 32).
CONFIG = dict(n_layer=2, n_head=4, n_embd=64, n_positions=32, vocab_size=97, layer_norm_epsilon=1e-5)
B, T = 2, 32


def param_names(n_layer):
    names = ["wte.weight", "wpe.weight"]
    for i in range(n_layer):
        for part in ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                     "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                     "mlp.c_proj.weight", "mlp.c_proj.bias"]:
            names.append(f"h.{i}.{part}")
    return names + ["ln_f.weight", "ln_f.bias"]


def gelu_tanh(x):
    # transformers' "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def forward(W, cfg, tokens, targets, dropout=None, hidden=False):
    """W: dict name -> tensor (HF names, no prefix). Returns logits (B, T, V) and the mean loss, or
    with hidden=True the final LayerNorm's output (B, T, C) alone (what a classification head reads).

    dropout(x, site), if given, is applied where transformers' GPT2Model drops in training mode:
    after the embedding (site 0), on the attention weights after the softmax (3 i + 1), on the
    attention branch's output (3 i + 2) and on the MLP branch's output (3 i + 3) of block i."""
    drop = dropout or (lambda x, site: x)
    L, NH, C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps, HS = cfg["layer_norm_epsilon"], C // cfg["n_head"]
    Bn, Tn = tokens.shape
    x = drop(W["wte.weight"][tokens] + W["wpe.weight"][:Tn], 0)
    causal = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    for i in range(L):
        p = f"h.{i}."
        h = F.layer_norm(x, (C,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.view(Bn, Tn, NH, HS).transpose(1, 2) for t in qkv.split(C, dim=2))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
        att = drop(att.masked_fill(~causal, float("-inf")).softmax(dim=-1), 3 * i + 1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + drop(y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"], 3 * i + 2)
        h = F.layer_norm(x, (C,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        h = gelu_tanh(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + drop(h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"], 3 * i + 3)
    x = F.layer_norm(x, (C,), W["ln_f.weight"], W["ln_f.bias"], eps)
    if hidden:
        return x
    logits = x @ W["wte.weight"].T  # the head is tied to the token embedding
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def make_weights(cfg, gen):
    """Random weights, larger than GPT-2's init so that attention and LayerNorm do non-trivial work."""
    W = {}
    C, V, maxT = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    shapes = {"wte.weight": (V, C), "wpe.weight": (maxT, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        shapes.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,), p + "attn.c_attn.weight": (C, 3 * C),
                       p + "attn.c_attn.bias": (3 * C,), p + "attn.c_proj.weight": (C, C),
                       p + "attn.c_proj.bias": (C,), p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                       p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
                       p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,)})
    for name in param_names(cfg["n_layer"]):
        shape = shapes[name]
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:
            t = 0.05 * torch.randn(shape, generator=gen)
        else:
            t = 0.15 * torch.randn(shape, generator=gen)
        W[name] = t.to(torch.float32)
    return W


def hf_config_json(cfg):
    return {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
            "embd_pdrop": 0.1, "initializer_range": 0.02, "layer_norm_epsilon": cfg["layer_norm_epsilon"],
            "model_type": "gpt2", "n_ctx": cfg["n_positions"], "n_embd": cfg["n_embd"], "n_head": cfg["n_head"],
            "n_inner": None, "n_layer": cfg["n_layer"], "n_positions": cfg["n_positions"], "resid_pdrop": 0.1,
            "vocab_size": cfg["vocab_size"]}


def write_hf_dir(name, W, cfg, dtype, prefix):
    """A model directory as GPT2LMHeadModel.save_pretrained would write it (plus the buffers)."""
    d = fixture_path(name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf_config_json(cfg), f, indent=2)
    tensors = {}
    maxT = cfg["n_positions"]
    for k, v in W.items():
        tensors[prefix + k] = v.to(dtype)
        if k.endswith("ln_1.bias"):  # the attention buffers of the same block, as older checkpoints hold them
            i = k.split(".")[1]
            tensors[f"{prefix}h.{i}.attn.bias"] = torch.tril(torch.ones(maxT, maxT)).view(1, 1, maxT, maxT).to(dtype)
            tensors[f"{prefix}h.{i}.attn.masked_bias"] = torch.tensor(-1e4).to(dtype)
    if prefix:
        tensors["lm_head.weight"] = W["wte.weight"].to(dtype)
    save(os.path.join(d, "model.safetensors"), tensors, metadata={"format": "pt"})


def read_safetensors(path):
    """A minimal reader (the format: u64 header length, JSON header, raw little-endian data)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        dt = dtypes[info["dtype"]]
        t = torch.frombuffer(raw, dtype=torch.int16 if dt == torch.bfloat16 else dt) if raw else torch.empty(0, dtype=dt)
        if dt == torch.bfloat16:
            t = t.view(torch.bfloat16)
        out[name] = t.reshape(info["shape"]) if dt == torch.int64 else t.reshape(info["shape"]).to(torch.float32)
    return out, header


def check_dir(model_dir, expect):
    with open(os.path.join(model_dir, "config.json")) as f:
        hf = json.load(f)
    cfg = {k: hf[k] for k in ["n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "layer_norm_epsilon"]}
    tensors, header = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    print("metadata:", header.get("__metadata__"))
    W = {k.removeprefix("transformer."): v.double() for k, v in tensors.items()}
    fx, _ = read_safetensors(fixture_path("05_model.safetensors"))
    tokens, targets = fx["tokens"].long(), fx["targets"].long()
    assert int(tokens.max()) < cfg["vocab_size"] and tokens.shape[1] <= cfg["n_positions"]
    with torch.no_grad():
        _, loss = forward(W, cfg, tokens, targets)
    print(f"loss of {model_dir} on the fixture tokens: {loss.item():.9g}")
    if expect is not None:
        rel = abs(loss.item() - expect) / abs(expect)
        print(f"expected {expect:.9g}: relative difference {rel:.3g}")
        sys.exit(0 if rel <= 1e-5 else 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", metavar="DIR")
    ap.add_argument("--expect", type=float)
    args = ap.parse_args()
    if args.check:
        return check_dir(args.check, args.expect)

    gen = torch.Generator().manual_seed(5)
    cfg = CONFIG
    W = make_weights(cfg, gen)
    tokens = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
    targets = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)

    W64 = {k: v.double().requires_grad_(True) for k, v in W.items()}
    logits, loss = forward(W64, cfg, tokens, targets)
    loss.backward()

    # The same with some targets ignored (-1): the mean runs over the remaining positions only.
    targets_ignore = targets.clone()
    targets_ignore[0, :5] = -1
    targets_ignore[1, 20] = -1
    W64i = {k: v.double().requires_grad_(True) for k, v in W.items()}
    _, loss_ignore = forward(W64i, cfg, tokens, targets_ignore)
    loss_ignore.backward()

    out = {"tokens": tokens, "targets": targets, "logits": logits.detach().float(),
           "loss": loss.detach().float().reshape(1), "targets_ignore": targets_ignore,
           "loss_ignore": loss_ignore.detach().float().reshape(1),
           "grad_ignore.wte.weight": W64i["wte.weight"].grad.float(),
           "grad_ignore.ln_f.weight": W64i["ln_f.weight"].grad.float()}
    for name in param_names(cfg["n_layer"]):
        out["grad." + name] = W64[name].grad.float()
    # Losses of the weights rounded to F16 and BF16: what a reader of those checkpoints must compute.
    for tag, dt in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
        with torch.no_grad():
            _, l = forward({k: v.to(dt).double() for k, v in W.items()}, cfg, tokens, targets)
        out["loss_" + tag] = l.float().reshape(1)
    save(fixture_path("05_model.safetensors"), out)

    write_hf_dir("05_hf_tiny", W, cfg, torch.float32, "transformer.")
    write_hf_dir("05_hf_tiny_f16", W, cfg, torch.float16, "transformer.")
    write_hf_dir("05_hf_tiny_bf16", W, cfg, torch.bfloat16, "")
    print(f"loss {loss.item():.9g}, loss with ignored targets {loss_ignore.item():.9g}")


if __name__ == "__main__":
    main()
