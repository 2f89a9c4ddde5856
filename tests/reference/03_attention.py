"""Fixture for chapters/03_attention/tests: softmax and scaled dot-product attention (causal and
not), forward and backward through autograd, for several shapes (B, NH, T, HS).

As in every fixture script: inputs drawn in float64 and rounded to float32 (what the C++ test
reads); expected values computed in float64 from the rounded inputs, stored as float32.

Run: /usr/bin/python3 tests/reference/03_attention.py  (writes tests/fixtures/03_attention.safetensors)
"""
import math

import torch

from fixture_io import fixture_path, save

torch.manual_seed(3)
tensors = {}


def f32_64(t):
    return t.to(torch.float32).to(torch.float64)


def randn(*shape, scale=1.0):
    return f32_64(scale * torch.randn(*shape, dtype=torch.float64))


# --- softmax: ordinary rows, a row of large values (exp would overflow without the max
# subtraction: exp(1000) is inf even in float64), a row of very negative values, a constant row.
x = randn(5, 9, scale=2.0)
x[1] += 1000.0
x[2] -= 1000.0
x[3] = 0.5
x = f32_64(x).requires_grad_()
y = torch.softmax(x, dim=-1)
dy = randn(5, 9)
y.backward(dy)
tensors["softmax.inp"] = x.detach().float()
tensors["softmax.dout"] = dy.float()
tensors["softmax.out"] = y.detach().float()
tensors["softmax.dinp"] = x.grad.float()


def attention_case(name, B, NH, T, HS, causal):
    """The attention of nanoGPT written out (not F.scaled_dot_product_attention, so the mask and
    the scale are visible): att = softmax(q k^T / sqrt(HS) + mask), out = att v."""
    q, k, v = (randn(B, NH, T, HS).requires_grad_() for _ in range(3))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
    if causal:
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = att.masked_fill(~mask, float("-inf"))
    att = torch.softmax(att, dim=-1)
    att.retain_grad()
    out = att @ v
    dout = randn(B, NH, T, HS)
    out.backward(dout)
    for key, t in [("q", q), ("k", k), ("v", v), ("dout", dout), ("out", out), ("att", att),
                   ("dq", q.grad), ("dk", k.grad), ("dv", v.grad)]:
        tensors[f"{name}.{key}"] = t.detach().float()


# Edge cases: T = 1, one head, head size not a multiple of 8, batch 1 and several.
attention_case("b2h3t5d7_causal", B=2, NH=3, T=5, HS=7, causal=True)
attention_case("b2h3t5d7_full", B=2, NH=3, T=5, HS=7, causal=False)
attention_case("b1h1t1d5_causal", B=1, NH=1, T=1, HS=5, causal=True)
attention_case("b1h2t9d16_causal", B=1, NH=2, T=9, HS=16, causal=True)
attention_case("b3h1t4d3_causal", B=3, NH=1, T=4, HS=3, causal=True)

save(fixture_path("03_attention.safetensors"), tensors, metadata={"script": "tests/reference/03_attention.py"})
