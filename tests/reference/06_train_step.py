"""Fixture for exercise 06.4 (one training step: zero, forward, backward, clip, update).

A bigram model, logits[t] = W[x_t] + b with W (V, V) and b (V), trained for STEPS steps of K
micro-batches each the way PyTorch code usually writes it: opt.zero_grad(); for each micro-batch
(loss / K).backward(); clip_grad_norm_; opt.step(), with torch.optim.AdamW (weight decay on W only),
in float64.

Saved (the parameter buffer is W then b, flattened):
  params0 [n]                initial parameters (float32; torch starts from these same values)
  inputs, targets [S, K, B*T]  the micro-batches of every step (int64)
  lrs [S]                    the learning rate of each step
  losses [S]                 the mean of the K micro-batch losses
  norms [S]                  clip_grad_norm_'s return value (the norm before clipping)
  params [S, n]              the parameters after each step
metadata: V, B, T, K, steps, beta1, beta2, eps, weight_decay, max_norm.

Run: /usr/bin/python3 tests/reference/06_train_step.py
"""
import torch
import torch.nn.functional as F

from fixture_io import fixture_path, save

V, B, T, K, STEPS = 11, 2, 5, 2, 6
BETAS, EPS, WD, MAX_NORM = (0.9, 0.95), 1e-8, 0.1, 0.35
LRS = [0.02, 0.04, 0.05, 0.05, 0.03, 0.01]

gen = torch.Generator().manual_seed(64)
W0 = (0.5 * torch.randn(V, V, generator=gen)).float()
b0 = (0.1 * torch.randn(V, generator=gen)).float()
W = torch.nn.Parameter(W0.double().clone())
b = torch.nn.Parameter(b0.double().clone())
opt = torch.optim.AdamW([{"params": [W], "weight_decay": WD}, {"params": [b], "weight_decay": 0.0}],
                        lr=LRS[0], betas=BETAS, eps=EPS, foreach=False)

# Skewed token frequencies: some rows of W are used often, some never (their gradient is zero).
weights = torch.tensor([8.0, 4, 4, 2, 2, 1, 1, 1, 0.5, 0.5, 0])
inputs = torch.multinomial(weights, STEPS * K * B * T, replacement=True, generator=gen).view(STEPS, K, B * T)
targets = torch.multinomial(weights + 1, STEPS * K * B * T, replacement=True, generator=gen).view(STEPS, K, B * T)

losses, norms, after = [], [], []
for s in range(STEPS):
    opt.zero_grad()
    total = 0.0
    for k in range(K):
        logits = W[inputs[s, k]] + b
        loss = F.cross_entropy(logits, targets[s, k])
        (loss / K).backward()
        total += loss.item()
    losses.append(total / K)
    norms.append(float(torch.nn.utils.clip_grad_norm_([W, b], MAX_NORM)))
    for group in opt.param_groups:
        group["lr"] = LRS[s]
    opt.step()
    after.append(torch.cat([W.detach().reshape(-1), b.detach()]).float())

save(fixture_path("06_train_step.safetensors"), {
    "params0": torch.cat([W0.reshape(-1), b0]),
    "inputs": inputs,
    "targets": targets,
    "lrs": torch.tensor(LRS, dtype=torch.float32),
    "losses": torch.tensor(losses, dtype=torch.float32),
    "norms": torch.tensor(norms, dtype=torch.float32),
    "params": torch.stack(after),
}, metadata={"V": V, "B": B, "T": T, "K": K, "steps": STEPS, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS,
             "weight_decay": WD, "max_norm": MAX_NORM, "torch": torch.__version__})
print("wrote 06_train_step.safetensors; losses", [round(x, 4) for x in losses], "norms",
      [round(x, 4) for x in norms], "(clipped above", MAX_NORM, ")")
