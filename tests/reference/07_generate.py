"""Fixtures for chapter 07 (generation): greedy continuations computed by an independent PyTorch GPT-2.

The model is chapter 05's reference GPT-2 (tests/reference/05_model.py: our own PyTorch GPT-2 with the
Hugging Face names and the Conv1D convention, computing in float64). Generation here is the plain
nanoGPT loop with NO cache: every step runs the whole context through the model again and takes the
argmax of the last position's logits. The C++ side generates with its KV cache; equal tokens show that
the cache computes the same function.

Two runs on one tiny random model (2 layers, 4 heads, 32 channels, context 16, 97 tokens):
  - "short": a 5-token prompt and 10 new tokens, all inside the context;
  - "window": a 6-token prompt and 30 new tokens, past the 16-token context, with the sliding window
    chapter 07 documents: when the context would grow past maxT, keep the last maxT/2 tokens and
    continue from them (positions restart at 0), so the model sees tokens[start:] with start
    jumping forward whenever len(tokens) - start would exceed maxT.

Greedy decoding is only comparable across float32 and float64 if no step is a near-tie: the script
checks that the gap between the best and second-best logit is at least 1e-3 at every step (it is
printed) and fails otherwise.

Writes:
  tests/fixtures/07_tiny_model/   config.json + model.safetensors (F32, Hugging Face names)
  tests/fixtures/07_generate.safetensors   prompt_short, greedy_short, prompt_window, greedy_window,
      and logits_short: the float64 logits (as float32) of every position of prompt_short + greedy_short,
      one full forward pass, for comparing cached logits position by position.

Usage: /usr/bin/python3 tests/reference/07_generate.py
"""
import importlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path, save  # noqa: E402

m05 = importlib.import_module("05_model")  # chapter 05's independent PyTorch GPT-2

CONFIG = dict(n_layer=2, n_head=4, n_embd=32, n_positions=16, vocab_size=97, layer_norm_epsilon=1e-5)
MIN_GAP = 1e-3


def last_logits(W, cfg, context):
    tokens = torch.tensor([context])
    with torch.no_grad():
        logits, _ = m05.forward(W, cfg, tokens, torch.zeros_like(tokens))
    return logits[0, -1]


def greedy(W, cfg, prompt, n_new):
    """nanoGPT's generate() with argmax and chapter 07's sliding window; returns (new ids, smallest gap)."""
    maxT, ids, start, gap = cfg["n_positions"], list(prompt), 0, float("inf")
    for _ in range(n_new):
        if len(ids) - start > maxT:  # the context would not fit: keep the last maxT/2 tokens
            start = len(ids) - maxT // 2
        logits = last_logits(W, cfg, ids[start:])
        top2 = torch.topk(logits, 2).values
        gap = min(gap, (top2[0] - top2[1]).item())
        ids.append(int(torch.argmax(logits)))
    return ids[len(prompt):], gap


def main():
    cfg = CONFIG
    gen = torch.Generator().manual_seed(7)
    W = m05.make_weights(cfg, gen)  # float32 weights, stored as they are
    W64 = {k: v.double() for k, v in W.items()}

    prompt_short = torch.randint(0, cfg["vocab_size"], (5,), generator=gen).tolist()
    prompt_window = torch.randint(0, cfg["vocab_size"], (6,), generator=gen).tolist()
    greedy_short, gap_short = greedy(W64, cfg, prompt_short, 10)
    greedy_window, gap_window = greedy(W64, cfg, prompt_window, 30)
    print(f"short:  prompt {prompt_short} -> {greedy_short} (smallest top-2 logit gap {gap_short:.4g})")
    print(f"window: prompt {prompt_window} -> {greedy_window} (smallest top-2 logit gap {gap_window:.4g})")
    if min(gap_short, gap_window) < MIN_GAP:
        sys.exit("a step is a near-tie: float32 and float64 may choose differently; pick another seed")

    full = torch.tensor([prompt_short + greedy_short])
    with torch.no_grad():
        logits, _ = m05.forward(W64, cfg, full, torch.zeros_like(full))

    m05.write_hf_dir("07_tiny_model", W, cfg, torch.float32, "")
    as_ids = lambda xs: torch.tensor(xs, dtype=torch.int64)  # noqa: E731
    save(fixture_path("07_generate.safetensors"),
         {"prompt_short": as_ids(prompt_short), "greedy_short": as_ids(greedy_short),
          "prompt_window": as_ids(prompt_window), "greedy_window": as_ids(greedy_window),
          "logits_short": logits[0].float()})


if __name__ == "__main__":
    main()
