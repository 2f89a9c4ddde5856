"""Fixtures for chapter 12 (the gpt2 program): greedy generation and the sliding-window evaluation of a
tiny model, computed by an independent PyTorch GPT-2, for the CLI tests to reproduce through
`gpt2 generate --greedy --json` and `gpt2 eval --json`.

The model is chapter 05's reference GPT-2 (tests/reference/05_model.py, computing in float64). Its
tokenizer has no merges: ids 0..255 are the 256 bytes in GPT-2's byte order (bytes_to_unicode below,
as in OpenAI's encoder.py) and id 256 is <|endoftext|>, so the prompt's ids are simply its bytes'
ids and the model directory is complete (config.json, model.safetensors, vocab.json, merges.txt).

Greedy generation: the plain loop without a cache (every step runs the whole context again), with
chapter 07's sliding window (when the context would grow past maxT, keep the last maxT/2 tokens;
positions restart at 0) and stopping at <|endoftext|>. The script checks that no step is a near-tie
(top-2 logit gap >= 1e-3), so float32 and float64 choose the same tokens.

Evaluation: the text's ids x_0..x_{N-1}; each x_t (t >= 1) is scored once, by the window that
chapters/12_gpt2/text_eval.h describes: the first window predicts x_1..x_{e0} (e0 = min(N-1, maxT))
from x_0..x_{e0-1}; window k predicts x_{e_{k-1}+1}..x_{e_k} (e_k = min(e_{k-1} + S, N-1)) from the
maxT tokens before x_{e_k}. The total of -ln p is stored for three strides.

Writes:
  tests/fixtures/12_tiny_model/      config.json, model.safetensors (F32), vocab.json, merges.txt
  tests/fixtures/12_cli.safetensors  prompt_ids, greedy_ids, eval_ids (I64); eval_nats_s16, eval_nats_s32,
      eval_nats_s5 (F64, the summed cross-entropy with strides 16, 32, 5); metadata: prompt, eval_text

Usage: /usr/bin/python3 tests/reference/12_cli.py
"""
import importlib
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path, save  # noqa: E402

m05 = importlib.import_module("05_model")  # chapter 05's independent PyTorch GPT-2

CONFIG = dict(n_layer=2, n_head=4, n_embd=32, n_positions=32, vocab_size=257, layer_norm_epsilon=1e-5)
EOT = 256
MIN_GAP = 1e-3
PROMPT = "To be, or not to be"
N_NEW = 40
EVAL_TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
             "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n")


def bytes_to_unicode():
    """OpenAI's encoder.py: the printable stand-in of each byte, in the order that fixes the byte ids."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]


BYTE_ORDER, STAND_INS = bytes_to_unicode()
BYTE_ID = {b: i for i, b in enumerate(BYTE_ORDER)}


def encode(text):
    return [BYTE_ID[b] for b in text.encode("utf-8")]


def logits_of(W, cfg, context):
    tokens = torch.tensor([context])
    with torch.no_grad():
        logits, _ = m05.forward(W, cfg, tokens, torch.zeros_like(tokens))
    return logits[0]


def greedy(W, cfg, prompt, n_new):
    maxT, ids, start, gap = cfg["n_positions"], list(prompt), 0, float("inf")
    for _ in range(n_new):
        if len(ids) - start > maxT:
            start = len(ids) - maxT // 2
        logits = logits_of(W, cfg, ids[start:])[-1]
        top2 = torch.topk(logits, 2).values
        gap = min(gap, (top2[0] - top2[1]).item())
        nxt = int(torch.argmax(logits))
        if nxt == EOT:
            break
        ids.append(nxt)
    return ids[len(prompt):], gap


def sliding_nats(W, cfg, ids, stride):
    maxT, N = cfg["n_positions"], len(ids)
    end = min(N - 1, maxT)
    windows = [(0, end, 1)]
    while end < N - 1:
        new_end = min(end + stride, N - 1)
        windows.append((max(0, new_end - maxT), new_end, end + 1))
        end = new_end
    total, scored = 0.0, []
    for start, stop, first in windows:
        logp = F.log_softmax(logits_of(W, cfg, ids[start:stop]), dim=-1)
        for j in range(stop - start):
            t = start + j + 1
            if t >= first:
                total += -logp[j, ids[t]].item()
                scored.append(t)
    assert scored == list(range(1, N)), "every token after the first is scored exactly once"
    return total


def write_tokenizer(d):
    vocab = {STAND_INS[i]: i for i in range(256)}
    vocab["<|endoftext|>"] = EOT
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")


def main():
    cfg = CONFIG
    gen = torch.Generator().manual_seed(10)
    W = m05.make_weights(cfg, gen)
    W64 = {k: v.double() for k, v in W.items()}

    prompt_ids = encode(PROMPT)
    greedy_ids, gap = greedy(W64, cfg, prompt_ids, N_NEW)
    print(f"prompt {prompt_ids} -> {greedy_ids} ({len(greedy_ids)} tokens, smallest top-2 gap {gap:.4g})")
    if gap < MIN_GAP:
        sys.exit("a step is a near-tie: float32 and float64 may choose differently; pick another seed")
    if len(prompt_ids) + len(greedy_ids) <= cfg["n_positions"]:
        sys.exit("the generation does not pass the context: the sliding window is not exercised; pick another seed")

    eval_ids = encode(EVAL_TEXT)
    nats = {s: sliding_nats(W64, cfg, eval_ids, s) for s in (16, 32, 5)}
    print(f"eval: {len(eval_ids)} tokens, nats per stride {nats}")

    m05.write_hf_dir("12_tiny_model", W, cfg, torch.float32, "")
    write_tokenizer(fixture_path("12_tiny_model"))
    as_ids = lambda xs: torch.tensor(xs, dtype=torch.int64)  # noqa: E731
    save(fixture_path("12_cli.safetensors"),
         {"prompt_ids": as_ids(prompt_ids), "greedy_ids": as_ids(greedy_ids), "eval_ids": as_ids(eval_ids),
          "eval_nats_s16": torch.tensor([nats[16]], dtype=torch.float64),
          "eval_nats_s32": torch.tensor([nats[32]], dtype=torch.float64),
          "eval_nats_s5": torch.tensor([nats[5]], dtype=torch.float64)},
         metadata={"prompt": PROMPT, "eval_text": EVAL_TEXT})


if __name__ == "__main__":
    main()
