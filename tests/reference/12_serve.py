"""Fixtures for chapter 12's `gpt2 serve`: what the page's attention and logit-lens views must show for
a prompt, computed by an independent PyTorch GPT-2 on the tiny model of 12_cli.py.

The forward pass is chapter 05's reference (tests/reference/05_model.py), written out again here so that
it can keep what the views show, in float64:
  attention: softmax(q k^T / sqrt(HS)) with the causal mask, for every layer and head, (L, NH, T, T);
  logit lens: for the residual stream x_l entering block 0 (l = 0, the embedding) and leaving each block
      (l = 1..L), softmax(ln_f(x_l) @ wte^T), (L + 1, T, V). Row L is the model's own prediction.

Reads tests/fixtures/12_tiny_model/ (written by 12_cli.py; its tokenizer maps each byte to one id).
Writes tests/fixtures/12_serve.safetensors: prompt_ids (I64), attention (F64, L x NH x T x T),
lens_probs (F64, (L+1) x T x V); metadata: prompt.

Usage: /usr/bin/python3 tests/reference/12_serve.py
"""
import importlib
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path, save  # noqa: E402

m05 = importlib.import_module("05_model")
m12 = importlib.import_module("12_cli")  # the byte-level tokenizer of the tiny model

PROMPT = "To be, or not to be"


def trace(W, cfg, ids):
    """The attention weights and the residual stream at every block boundary, for one sequence."""
    L, NH, C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps, HS, T = cfg["layer_norm_epsilon"], C // NH, len(ids)
    tokens = torch.tensor(ids)
    x = W["wte.weight"][tokens] + W["wpe.weight"][:T]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    residuals, atts = [x], []
    for i in range(L):
        p = f"h.{i}."
        h = F.layer_norm(x, (C,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.view(T, NH, HS).transpose(0, 1) for t in qkv.split(C, dim=1))
        att = ((q @ k.transpose(-2, -1)) / math.sqrt(HS)).masked_fill(~causal, float("-inf")).softmax(dim=-1)
        atts.append(att)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (C,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        h = m05.gelu_tanh(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
        residuals.append(x)
    lens = [F.layer_norm(r, (C,), W["ln_f.weight"], W["ln_f.bias"], eps) @ W["wte.weight"].T for r in residuals]
    return torch.stack(atts), torch.stack([z.softmax(dim=-1) for z in lens])


def main():
    d = fixture_path("12_tiny_model")
    with open(os.path.join(d, "config.json")) as f:
        hf = json.load(f)
    cfg = {k: hf[k] for k in ["n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "layer_norm_epsilon"]}
    tensors, _ = m05.read_safetensors(os.path.join(d, "model.safetensors"))
    W = {k: v.double() for k, v in tensors.items()}
    ids = m12.encode(PROMPT)
    with torch.no_grad():
        att, lens = trace(W, cfg, ids)
    # The model's own logits must come out of the last lens row: check against chapter 05's forward.
    with torch.no_grad():
        logits, _ = m05.forward(W, cfg, torch.tensor([ids]), torch.zeros(1, len(ids), dtype=torch.long))
    assert torch.allclose(lens[-1], logits[0].softmax(dim=-1), atol=1e-12)
    print(f"prompt {len(ids)} tokens: attention {tuple(att.shape)}, lens {tuple(lens.shape)}")
    save(fixture_path("12_serve.safetensors"),
         {"prompt_ids": torch.tensor(ids, dtype=torch.int64), "attention": att, "lens_probs": lens},
         metadata={"prompt": PROMPT})


if __name__ == "__main__":
    main()
