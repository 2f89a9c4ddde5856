"""Fixture for chapters/02_embeddings/tests: GPT-2's token + positional embedding (forward and
backward through autograd) and the sinusoidal table of "Attention Is All You Need".

Inputs are drawn in float64, rounded to float32 (what the C++ test reads), and the expected values
are computed in float64 from those rounded inputs, then stored as float32: the C++ float32 result
then differs from the stored value only by its own float32 rounding.

Run: /usr/bin/python3 tests/reference/02_embeddings.py  (writes tests/fixtures/02_embeddings.safetensors)
"""
import math

import torch

from fixture_io import fixture_path, save

torch.manual_seed(2)
tensors = {}


def f32_64(t):
    """Round a float64 tensor to float32 and back: the exact values the C++ side sees."""
    return t.to(torch.float32).to(torch.float64)


def embedding_case(name, B, T, C, V, max_T, tokens=None):
    if tokens is None:
        tokens = torch.randint(0, V, (B, T))
    wte = f32_64(torch.randn(V, C, dtype=torch.float64)).requires_grad_()
    wpe = f32_64(torch.randn(max_T, C, dtype=torch.float64)).requires_grad_()
    emb_tok = torch.nn.functional.embedding(tokens, wte)  # (B, T, C)
    emb_pos = torch.nn.functional.embedding(torch.arange(T), wpe)  # (T, C)
    out = emb_tok + emb_pos
    dout = f32_64(torch.randn(B, T, C, dtype=torch.float64))
    out.backward(dout)
    tensors[f"{name}.tokens"] = tokens.to(torch.int64)
    tensors[f"{name}.wte"] = wte.detach().float()
    tensors[f"{name}.wpe"] = wpe.detach().float()
    tensors[f"{name}.dout"] = dout.float()
    tensors[f"{name}.out"] = out.detach().float()
    tensors[f"{name}.dwte"] = wte.grad.float()
    tensors[f"{name}.dwpe"] = wpe.grad.float()


# Several sequences, repeated tokens (their gradients must add up), C not a multiple of 8,
# T < max_T (rows T.. of wpe get no gradient), some vocabulary rows unused.
embedding_case("b3t5", B=3, T=5, C=6, V=11, max_T=8,
               tokens=torch.tensor([[3, 3, 0, 10, 3], [7, 1, 3, 7, 2], [0, 0, 0, 5, 9]]))
embedding_case("b1t1", B=1, T=1, C=6, V=11, max_T=8)
embedding_case("b2t8", B=2, T=8, C=13, V=5, max_T=8)  # T = max_T


def sinusoidal(T, C):
    """The tutorial code (The Annotated Transformer / PyTorch's tutorial), in float64; odd C keeps
    the last sine column."""
    pe = torch.zeros(T, C, dtype=torch.float64)
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, C, 2, dtype=torch.float64) * (-math.log(10000.0) / C))
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: C // 2])
    return pe


tensors["pe_t50_c16"] = sinusoidal(50, 16).float()
tensors["pe_t7_c9"] = sinusoidal(7, 9).float()
tensors["pe_t1_c4"] = sinusoidal(1, 4).float()

save(fixture_path("02_embeddings.safetensors"), tensors, metadata={"script": "tests/reference/02_embeddings.py"})
