"""Fixture for chapters/06_training/tests/test_adamw.cpp: torch.optim.AdamW with two parameter
groups (weight decay on the matrices only), torch.nn.utils.clip_grad_norm_ and a LambdaLR warmup +
cosine schedule, run for 8 steps on four small tensors with given gradients.

Saved (flat tensors, in the parameter order w, b, ln, e):
  params0 [n]            initial parameters
  grads [S, n]           the raw gradient of each step (before clipping)
  norms [S]              clip_grad_norm_'s return value (the norm before clipping)
  lrs [S]                the learning rate of each step
  params [S, n]          parameters after each step
  exp_avg, exp_avg_sq [n]  AdamW's moments after the last step
Run: /usr/bin/python3 tests/reference/06_adamw.py
"""
import math

import torch

from fixture_io import fixture_path, save

torch.manual_seed(6)
MAX_LR, MIN_LR, WARMUP, TOTAL, STEPS = 1e-2, 1e-3, 2, 6, 8
BETAS, EPS, WD, MAX_NORM = (0.9, 0.95), 1e-8, 0.1, 1.0

w = torch.nn.Parameter(torch.randn(4, 6) * 0.5)   # a matrix: decays
b = torch.nn.Parameter(torch.randn(6) * 0.1)      # a bias: does not
ln = torch.nn.Parameter(1 + torch.randn(5) * 0.1)  # a LayerNorm gain: does not
e = torch.nn.Parameter(torch.randn(3, 4) * 0.5)   # another matrix
params = [w, b, ln, e]
n = sum(p.numel() for p in params)


def lr_at(step):  # the schedule of chapters/06_training/lr_schedule.h, written out again
    if step < WARMUP:
        return MAX_LR * (step + 1) / WARMUP
    if step >= TOTAL:
        return MIN_LR
    ratio = (step - WARMUP) / (TOTAL - WARMUP)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * ratio)) * (MAX_LR - MIN_LR)


opt = torch.optim.AdamW([{"params": [w, e], "weight_decay": WD}, {"params": [b, ln], "weight_decay": 0.0}],
                        lr=MAX_LR, betas=BETAS, eps=EPS, foreach=False)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s) / MAX_LR)


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts])


params0 = flat(params).clone()
# Gradient scales: some steps stay under MAX_NORM, some are clipped.
scales = [0.05, 0.1, 2.0, 0.08, 5.0, 0.1, 0.3, 1.5]
all_grads, norms, lrs, after = [], [], [], []
for s in range(STEPS):
    for p in params:
        p.grad = torch.randn_like(p) * scales[s]
    all_grads.append(flat([p.grad for p in params]).clone())
    lrs.append(opt.param_groups[0]["lr"])
    norms.append(float(torch.nn.utils.clip_grad_norm_(params, MAX_NORM)))
    opt.step()
    sched.step()
    after.append(flat(params).clone())

state = [opt.state[p] for p in params]
save(fixture_path("06_adamw.safetensors"), {
    "params0": params0,
    "grads": torch.stack(all_grads),
    "norms": torch.tensor(norms, dtype=torch.float32),
    "lrs": torch.tensor(lrs, dtype=torch.float32),
    "params": torch.stack(after),
    "exp_avg": flat([st["exp_avg"] for st in state]),
    "exp_avg_sq": flat([st["exp_avg_sq"] for st in state]),
}, metadata={"max_lr": MAX_LR, "min_lr": MIN_LR, "warmup": WARMUP, "total": TOTAL, "steps": STEPS,
             "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS, "weight_decay": WD, "max_norm": MAX_NORM,
             "torch": torch.__version__})
print("wrote 06_adamw.safetensors:", n, "parameters,", STEPS, "steps; norms", [round(x, 4) for x in norms])
