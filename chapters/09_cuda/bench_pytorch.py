"""PyTorch eager fp32 twin of ch09_bench's GPT-2 training step, on the GPU.

Usage: python3 bench_pytorch.py BATCH SEQ STEPS
Prints, for TF32 off and on, lines "torch_cuda tf32=0 fwd_bwd_seconds=... adamw_seconds=... step_seconds=..."
(each the best of STEPS timed steps after two warm-up steps). Prints "torch_cuda unavailable ..." and
exits 0 when torch or a CUDA device is missing.

The model is GPT-2 124M written out in plain torch (nanoGPT's layout: Conv1D-style c_attn/c_proj
linears, pre-LN blocks, tanh GELU, tied head, F.scaled_dot_product_attention with is_causal), no
dropout, float32; the optimizer is torch.optim.AdamW (foreach, the default).
"""
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("torch_cuda unavailable (no torch)")
    sys.exit(0)


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
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L=12, NH=12, C=768, maxT=1024, V=50257):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(maxT, C)
        self.h = nn.ModuleList(Block(C, NH) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    B, T, steps = (int(a) for a in sys.argv[1:4])
    if not torch.cuda.is_available():
        print("torch_cuda unavailable (torch has no CUDA device)")
        return
    torch.manual_seed(0)
    dev = "cuda"
    model = GPT().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    idx = torch.randint(0, 50257, (B, T), device=dev)
    tgt = torch.randint(0, 50257, (B, T), device=dev)
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        best_fb, best_opt = math.inf, math.inf
        for step in range(steps + 2):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = model(idx, tgt)
            loss.backward()
            torch.cuda.synchronize()
            t1 = time.perf_counter()
            opt.step()
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            if step >= 2:
                best_fb, best_opt = min(best_fb, t1 - t0), min(best_opt, t2 - t1)
        print(f"torch_cuda tf32={int(tf32)} fwd_bwd_seconds={best_fb:.6f} adamw_seconds={best_opt:.6f} "
              f"step_seconds={best_fb + best_opt:.6f} loss={loss.item():.4f}")


if __name__ == "__main__":
    main()
