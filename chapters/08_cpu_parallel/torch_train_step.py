#!/usr/bin/python3
"""Times one GPT-2 training step in PyTorch, for ch08_bench's comparison.

The same computation as chapter 05/06's C++ step: GPT-2 (pre-LN blocks, tanh GELU, tied head),
forward with the mean cross-entropy, backward, then torch.optim.AdamW (betas 0.9/0.95, weight
decay 0.1 on matrices). Written out like nanoGPT so it needs only torch, not transformers.

Usage: /usr/bin/python3 torch_train_step.py THREADS [B T L NH C V]
Prints three lines: "torch_blas <the BLAS torch's matrix products ran on>",
"torch_step_seconds <best of 3 steps>" and "torch_step_cpu_seconds <the least CPU time of a
step, all threads together>".
"""
import ctypes
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.NH)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L, NH, C, V, maxT):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(maxT, C)
        self.h = nn.ModuleList(Block(C, NH) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def blas_name():
    """The OpenBLAS core (OPENBLAS_CORETYPE or its own detection) behind Debian's torch, which
    calls the BLAS through libblas.so.3."""
    try:
        blas = ctypes.CDLL("libblas.so.3")
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return "OpenBLAS " + blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "not OpenBLAS (libblas.so.3)"


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    B, T, L, NH, C, V = (int(a) for a in sys.argv[2:8]) if len(sys.argv) >= 8 else (4, 64, 12, 12, 768, 50257)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = GPT(L, NH, C, V, 1024)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), eps=1e-8)
    idx = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    best, best_cpu = float("inf"), float("inf")
    for step in range(4):  # the first step warms up (allocations, AdamW state)
        start, start_cpu = time.perf_counter(), time.process_time()
        loss = model(idx, targets)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
        if step > 0:
            best, best_cpu = min(best, seconds), min(best_cpu, cpu_seconds)
    print(f"torch_blas {blas_name()}")
    print(f"torch_step_seconds {best:.4f}")
    print(f"torch_step_cpu_seconds {best_cpu:.4f}")  # all threads together


if __name__ == "__main__":
    main()
