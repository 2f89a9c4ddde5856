"""Fixture for chapter 05's dropout: the whole tiny GPT-2 in training mode with fixed masks.

The model is 05_model.py's independent PyTorch GPT-2 on the weights of tests/fixtures/05_hf_tiny,
with dropout where transformers' GPT2Model applies it (05_model.forward's `dropout` argument). The
masks are not torch's: they are those the C++ model must draw, computed here from the rule that
chapters/05_gpt2_model/dropout.h documents, written again from its description in plain Python
integers (common/rng.h's generator: SplitMix64 seeding, one xorshift64* step, the top 24 bits):

    key(seed, pass, site) = S(S(S(seed) ^ pass) ^ site)        S = the state after Rng(x)'s seeding
    element i of a site is kept  <=>  uniform(Rng(key + i)) >= p

So the fixture checks the masks (their generator, their keys, the indexing of each site's elements
in row-major order) as well as where the model drops and how it scales (1 / (1 - p)) and the
whole backward pass, in float64.

Writes tests/fixtures/05_model_dropout.safetensors: seed, pass, the three probabilities, the
fraction of elements kept at each site (a sanity check), logits, loss and every gradient.

Usage: /usr/bin/python3 tests/reference/05_model_dropout.py
"""
import importlib
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path, save  # noqa: E402

m05 = importlib.import_module("05_model")

MASK64 = (1 << 64) - 1
SEED, PASS = 1337, 41
EMBD_P, ATTN_P, RESID_P = 0.1, 0.2, 0.3


def f32(x):
    """x rounded to float32, as the C++ code holds a probability."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def seeded_state(seed):
    """The state of gpt2::Rng(seed): one SplitMix64 finaliser step, forced odd."""
    z = (seed + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return (z ^ (z >> 31)) | 1


def first_uniform(state):
    """The first uniform() of a generator in `state`: xorshift64*, the top 24 of its 32 bits."""
    s = state
    s ^= s >> 12
    s ^= (s << 25) & MASK64
    s ^= s >> 27
    r = ((s * 0x2545F4914F6CDD1D) & MASK64) >> 32
    return (r >> 8) / 16777216.0


def dropout_key(seed, pass_, site):
    key = seeded_state(seed)
    key = seeded_state(key ^ pass_)
    return seeded_state(key ^ site)


def mask(shape, p, key):
    n = 1
    for d in shape:
        n *= d
    keep = [1.0 if first_uniform(seeded_state((key + i) & MASK64)) >= f32(p) else 0.0 for i in range(n)]
    return torch.tensor(keep, dtype=torch.float64).reshape(shape)


def main():
    tensors, _ = m05.read_safetensors(fixture_path("05_model.safetensors"))
    tokens, targets = tensors["tokens"].long(), tensors["targets"].long()
    weights, _ = m05.read_safetensors(os.path.join(fixture_path("05_hf_tiny"), "model.safetensors"))
    cfg = m05.CONFIG
    W = {k.removeprefix("transformer."): v.double().requires_grad_(True)
         for k, v in weights.items() if k.removeprefix("transformer.") in m05.param_names(cfg["n_layer"])}

    kept = {}

    def dropout(x, site):
        p = EMBD_P if site == 0 else ATTN_P if site % 3 == 1 else RESID_P
        m = mask(tuple(x.shape), p, dropout_key(SEED, PASS, site))
        kept[site] = m.mean().item()
        return x * m / (1.0 - f32(p))

    logits, loss = m05.forward(W, cfg, tokens, targets, dropout=dropout)
    loss.backward()
    out = {"seed": torch.tensor([SEED]), "pass": torch.tensor([PASS]),
           "p": torch.tensor([EMBD_P, ATTN_P, RESID_P], dtype=torch.float32),
           "kept": torch.tensor([kept[s] for s in sorted(kept)], dtype=torch.float32),
           "logits": logits.detach().float(), "loss": loss.detach().float().reshape(1)}
    for name in m05.param_names(cfg["n_layer"]):
        out["grad." + name] = W[name].grad.float()
    save(fixture_path("05_model_dropout.safetensors"), out)
    print(f"loss with dropout {loss.item():.9g}; kept fractions {[round(kept[s], 3) for s in sorted(kept)]}")


if __name__ == "__main__":
    main()
