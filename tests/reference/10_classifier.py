"""Fixture for chapter 10's classifier trained through the model: GPT2ForSequenceClassification's
forward, loss and every gradient on the tiny model, in float64.

The model is 05_model.py's independent GPT-2 (weights of tests/fixtures/05_hf_tiny) up to ln_f; the
head is transformers' `score = nn.Linear(C, K, bias=False)` read at each row's last real token (the
rows are padded after it, as GPT2ForSequenceClassification pools), and the loss is the mean
cross-entropy over the rows with a label (one row has none: label -100 in transformers' terms).

Writes tests/fixtures/10_classifier.safetensors: tokens (B, T), last (B), labels (B), score (K, C),
class_logits (B, K), loss, grad.score.weight and grad.<name> for every model parameter.

Usage: /usr/bin/python3 tests/reference/10_classifier.py
"""
import importlib
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path, save  # noqa: E402

m05 = importlib.import_module("05_model")

B, T, K = 3, 10, 3


def main():
    cfg = m05.CONFIG
    weights, _ = m05.read_safetensors(os.path.join(fixture_path("05_hf_tiny"), "model.safetensors"))
    W = {k.removeprefix("transformer."): v.double().requires_grad_(True)
         for k, v in weights.items() if k.removeprefix("transformer.") in m05.param_names(cfg["n_layer"])}
    gen = torch.Generator().manual_seed(10)
    tokens = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
    last = torch.tensor([9, 4, 6])   # rows 1 and 2 are padded after their last token
    labels = torch.tensor([2, 0, -100])  # the last row has no label
    score = (0.3 * torch.randn(K, cfg["n_embd"], generator=gen)).to(torch.float32)
    S = score.double().requires_grad_(True)
    hidden = m05.forward(W, cfg, tokens, None, hidden=True)
    pooled = hidden[torch.arange(B), last]
    logits = pooled @ S.T
    loss = F.cross_entropy(logits, labels, ignore_index=-100)
    loss.backward()
    out = {"tokens": tokens, "last": last, "labels": labels.clamp(min=-1), "score": score,
           "class_logits": logits.detach().float(), "loss": loss.detach().float().reshape(1),
           "grad.score.weight": S.grad.float()}
    for name in m05.param_names(cfg["n_layer"]):
        out["grad." + name] = W[name].grad.float()
    save(fixture_path("10_classifier.safetensors"), out)
    print(f"classifier loss {loss.item():.9g}")


if __name__ == "__main__":
    main()
