"""Fixture for chapters/04_transformer_block/tests: linear (Conv1D convention), LayerNorm, GELU
(tanh), residual, causal multi-head attention and a whole pre-LN GPT-2 block, forward and backward.

The block is written as transformers' GPT2Block computes it (dropout off): Conv1D layers are
`x @ W + b` with W of shape [in, out]; c_attn's 3C outputs are q | k | v; heads are split with
view(B, T, NH, HS).transpose(1, 2). Gradients come from autograd with a random output gradient.

As in every fixture script: inputs drawn in float64 and rounded to float32 (what the C++ test
reads); expected values computed in float64 from the rounded inputs, stored as float32.

Run: /usr/bin/python3 tests/reference/04_transformer_block.py
(writes tests/fixtures/04_transformer_block.safetensors)
"""
import math

import torch
import torch.nn.functional as F

from fixture_io import fixture_path, save

torch.manual_seed(4)
tensors = {}
EPS = 1e-5  # GPT-2's layer_norm_epsilon


def randn(*shape, scale=1.0, shift=0.0):
    t = shift + scale * torch.randn(*shape, dtype=torch.float64)
    return t.to(torch.float32).to(torch.float64).requires_grad_()


def store(prefix, **named):
    for key, t in named.items():
        tensors[f"{prefix}.{key}"] = t.detach().float()


def backward_with_random_grad(out):
    dout = randn(*out.shape).detach()
    out.backward(dout)
    return dout


# --- linear: out = inp @ weight + bias, weight (C, OC)
for name, BT, C, OC, with_bias in [("linear_bias", 5, 7, 9, True), ("linear_nobias", 3, 4, 6, False),
                                   ("linear_bt1", 1, 8, 3, True)]:
    inp, w = randn(BT, C), randn(C, OC, scale=0.5)
    b = randn(OC) if with_bias else None
    out = inp @ w + (b if with_bias else 0)
    dout = backward_with_random_grad(out)
    store(name, inp=inp, weight=w, dout=dout, out=out, dinp=inp.grad, dweight=w.grad)
    if with_bias:
        store(name, bias=b, dbias=b.grad)

# --- LayerNorm over the last dimension; rows with a large mean and scale, and a row of C = 3.
for name, N, C in [("layernorm", 6, 10), ("layernorm_n1c3", 1, 3)]:
    inp = randn(N, C, scale=3.0, shift=5.0)
    w, b = randn(C, shift=1.0), randn(C)
    out = F.layer_norm(inp, (C,), w, b, EPS)
    dout = backward_with_random_grad(out)
    mean = inp.detach().mean(-1)
    rstd = 1.0 / torch.sqrt(inp.detach().var(-1, unbiased=False) + EPS)
    store(name, inp=inp, weight=w, bias=b, dout=dout, out=out, mean=mean, rstd=rstd, dinp=inp.grad,
          dweight=w.grad, dbias=b.grad)

# --- GELU, tanh form, over [-8, 8] plus a few large values where tanh saturates.
x = torch.cat([torch.linspace(-8, 8, 57, dtype=torch.float64), torch.tensor([-30.0, -12.5, 12.5, 30.0],
                                                                            dtype=torch.float64)])
x = (x + 0.01 * torch.randn(x.shape, dtype=torch.float64)).to(torch.float32).to(torch.float64).requires_grad_()
out = F.gelu(x, approximate="tanh")
dout = backward_with_random_grad(out)
store("gelu", inp=x, dout=dout, out=out, dinp=x.grad)

# --- residual
a, b = randn(2, 3, 5), randn(2, 3, 5)
out = a + b
dout = backward_with_random_grad(out)
store("residual", a=a, b=b, dout=dout, out=out, da=a.grad, db=b.grad)


def causal_self_attention(qkv, NH):
    """qkv (B, T, 3C) -> merged heads (B, T, C), as GPT2Attention between c_attn and c_proj."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    HS = C // NH
    q, k, v = qkv.split(C, dim=2)
    q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = torch.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
    y = att @ v
    return y.transpose(1, 2).contiguous().view(B, T, C), att


# --- multi-head attention (between the projections). Edge cases: T = 1 and one head; HS = 5.
for name, B, T, C, NH in [("mha_b2t5c12h3", 2, 5, 12, 3), ("mha_b1t1c6h1", 1, 1, 6, 1),
                          ("mha_b3t4c10h2", 3, 4, 10, 2)]:
    qkv = randn(B, T, 3 * C)
    out, att = causal_self_attention(qkv, NH)
    dout = backward_with_random_grad(out)
    store(name, qkv=qkv, dout=dout, out=out, att=att, dqkv=qkv.grad)


# --- a whole pre-LN block, parameter names as in Hugging Face's state dict (h.{i}. prefix dropped)
def block_case(name, B, T, C, NH):
    p = {
        "ln_1.weight": randn(C, scale=0.2, shift=1.0), "ln_1.bias": randn(C, scale=0.2),
        "attn.c_attn.weight": randn(C, 3 * C, scale=0.3), "attn.c_attn.bias": randn(3 * C, scale=0.1),
        "attn.c_proj.weight": randn(C, C, scale=0.3), "attn.c_proj.bias": randn(C, scale=0.1),
        "ln_2.weight": randn(C, scale=0.2, shift=1.0), "ln_2.bias": randn(C, scale=0.2),
        "mlp.c_fc.weight": randn(C, 4 * C, scale=0.3), "mlp.c_fc.bias": randn(4 * C, scale=0.1),
        "mlp.c_proj.weight": randn(4 * C, C, scale=0.3), "mlp.c_proj.bias": randn(C, scale=0.1),
    }
    x = randn(B, T, C)
    h = F.layer_norm(x, (C,), p["ln_1.weight"], p["ln_1.bias"], EPS)
    y, _ = causal_self_attention(h @ p["attn.c_attn.weight"] + p["attn.c_attn.bias"], NH)
    x1 = x + (y @ p["attn.c_proj.weight"] + p["attn.c_proj.bias"])
    h = F.layer_norm(x1, (C,), p["ln_2.weight"], p["ln_2.bias"], EPS)
    h = F.gelu(h @ p["mlp.c_fc.weight"] + p["mlp.c_fc.bias"], approximate="tanh")
    out = x1 + (h @ p["mlp.c_proj.weight"] + p["mlp.c_proj.bias"])
    dout = backward_with_random_grad(out)
    store(name, x=x, dout=dout, out=out, dx=x.grad)
    for key, t in p.items():
        tensors[f"{name}.{key}"] = t.detach().float()
        tensors[f"{name}.grad.{key}"] = t.grad.float()


block_case("block_b2t4c12h2", B=2, T=4, C=12, NH=2)  # HS = 6
block_case("block_b1t1c8h1", B=1, T=1, C=8, NH=1)    # T = 1, one head
block_case("block_b3t5c20h4", B=3, T=5, C=20, NH=4)  # HS = 5

save(fixture_path("04_transformer_block.safetensors"), tensors,
     metadata={"script": "tests/reference/04_transformer_block.py"})
