"""Fixture for chapters/06_training/tests/test_gpt2_training.cpp: 10 AdamW steps of the tiny GPT-2
of chapter 05, in PyTorch, with gradient clipping, weight decay (on the matrices only) and the
warmup + cosine schedule on.

It reuses the independent PyTorch GPT-2 of tests/reference/05_model.py (its forward, in float64,
with torch.autograd for the gradients) and the weights and batch of chapter 05's fixtures
(tests/fixtures/05_hf_tiny/model.safetensors, tokens/targets of 05_model.safetensors). Each step:
loss, backward, clip_grad_norm_, torch.optim.AdamW step, LambdaLR step. Run 05_model.py first.

Saved in tests/fixtures/06_train_parity.safetensors: losses [10] (the loss of each step, before
its update), norms [10] (the gradient norm before clipping), lrs [10], and the hyper-parameters in
the metadata.
Run: /usr/bin/python3 tests/reference/06_train_parity.py
"""
import importlib.util
import json
import math
import os
import struct

import torch

from fixture_io import fixture_path, save

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("model05", os.path.join(_here, "05_model.py"))
model05 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model05)

STEPS, MAX_LR, MIN_LR, WARMUP = 10, 1e-3, 1e-4, 2
BETAS, EPS, WD, MAX_NORM = (0.9, 0.95), 1e-8, 0.1, 1.0


def lr_at(step):  # chapters/06_training/lr_schedule.h, written out again
    if step < WARMUP:
        return MAX_LR * (step + 1) / WARMUP
    if step >= STEPS:
        return MIN_LR
    ratio = (step - WARMUP) / (STEPS - WARMUP)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * ratio)) * (MAX_LR - MIN_LR)


cfg = model05.CONFIG
tensors, _ = model05.read_safetensors(fixture_path(os.path.join("05_hf_tiny", "model.safetensors")))
names = model05.param_names(cfg["n_layer"])
W = {n: tensors["transformer." + n].double().requires_grad_(True) for n in names}


def read_int64(path, name):
    """One I64 tensor of a safetensors file (05_model.py's reader handles floats only)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    info = json.loads(data[8:8 + n])[name]
    assert info["dtype"] == "I64", info
    begin, end = info["data_offsets"]
    return torch.frombuffer(bytearray(data[8 + n + begin:8 + n + end]), dtype=torch.int64).reshape(info["shape"])


tokens = read_int64(fixture_path("05_model.safetensors"), "tokens")
targets = read_int64(fixture_path("05_model.safetensors"), "targets")

params = [W[n] for n in names]
decay = [W[n] for n in names if W[n].dim() >= 2]
no_decay = [W[n] for n in names if W[n].dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=MAX_LR, betas=BETAS, eps=EPS, foreach=False)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s) / MAX_LR)

losses, norms, lrs = [], [], []
for step in range(STEPS):
    opt.zero_grad()
    _, loss = model05.forward(W, cfg, tokens, targets)
    loss.backward()
    lrs.append(opt.param_groups[0]["lr"])
    norms.append(float(torch.nn.utils.clip_grad_norm_(params, MAX_NORM)))
    opt.step()
    sched.step()
    losses.append(loss.item())

save(fixture_path("06_train_parity.safetensors"), {
    "losses": torch.tensor(losses, dtype=torch.float64),
    "norms": torch.tensor(norms, dtype=torch.float64),
    "lrs": torch.tensor(lrs, dtype=torch.float64),
}, metadata={"steps": STEPS, "max_lr": MAX_LR, "min_lr": MIN_LR, "warmup": WARMUP, "beta1": BETAS[0],
             "beta2": BETAS[1], "eps": EPS, "weight_decay": WD, "max_norm": MAX_NORM, "torch": torch.__version__})
print("losses", [f"{x:.6f}" for x in losses])
print("norms", [f"{x:.4f}" for x in norms])
