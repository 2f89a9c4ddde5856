#!/usr/bin/env python3
"""The rounding error of bf16 and q8 weights of a model, measured independently of the C++ code.

    /usr/bin/python3 chapters/08_cpu_parallel/q8_weight_error.py MODEL_DIR/model.safetensors

Reads the float32 matrices that chapter 08's WeightFormatBackend converts (wte and the four
Conv1D weights of every block), cuts every output's row into blocks of 32 (zero past the end),
quantizes each block as the chapter derives (s = max |w| / 127, q = round(w / s)) and prints, per
matrix and over all of them, the RMS error beside the model of the chapter (uniform on
[-s/2, s/2]: RMS s / sqrt(12)), the largest error in units of s / 2 (the bound: at most 1), and
the relative RMS errors of q8 and of bf16 (rounding to nearest even). Needs torch (Debian's
python3-torch); safetensors' header is parsed by hand.
"""
import json
import struct
import sys

import torch


def matrices(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32" or len(t["shape"]) != 2:
            continue
        if name.endswith("wpe.weight"):
            continue  # the position table stays float32
        a, b = t["data_offsets"]
        w = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(t["shape"]).double()
        # wte (V, C) has one row per output already; a Conv1D weight (C, OC) has its outputs as columns.
        yield name, (w if name.endswith("wte.weight") else w.t())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: q8_weight_error.py MODEL_DIR/model.safetensors")
    err_sq = pred_sq = w_sq = bf16_sq = 0.0
    count = 0
    worst = 0.0
    for name, rows in matrices(sys.argv[1]):
        R, K = rows.shape
        blocks = torch.nn.functional.pad(rows, (0, (-K) % 32)).reshape(R, -1, 32)
        s = blocks.abs().amax(-1, keepdim=True) / 127
        safe = torch.where(s > 0, s, torch.ones_like(s))
        q = torch.where(s > 0, torch.round(blocks / safe), torch.zeros_like(blocks))
        e = (blocks - s * q).reshape(R, -1)[:, :K]
        worst = max(worst, (e.abs().reshape(R, -1) / (safe.expand(-1, -1, 32).reshape(R, -1)[:, :K] / 2)).max().item())
        pred = (s.expand(-1, -1, 32).reshape(R, -1)[:, :K] ** 2 / 12)
        bf16 = rows.float().to(torch.bfloat16).double() - rows
        print(f"{name:28s} {R:6d} x {K:5d}: q8 RMS error {e.pow(2).mean().sqrt().item():.3e}, "
              f"s/sqrt(12) {pred.mean().sqrt().item():.3e}, relative q8 {(e.pow(2).sum() / rows.pow(2).sum()).sqrt().item():.4f}, "
              f"bf16 {(bf16.pow(2).sum() / rows.pow(2).sum()).sqrt().item():.5f}")
        err_sq += e.pow(2).sum().item()
        pred_sq += pred.sum().item()
        w_sq += rows.pow(2).sum().item()
        bf16_sq += bf16.pow(2).sum().item()
        count += R * K
    print(f"all: q8 RMS error {(err_sq / count) ** 0.5:.3e}, the model's s/sqrt(12) {(pred_sq / count) ** 0.5:.3e}, "
          f"largest error {worst:.4f} x s/2; relative RMS error q8 {(err_sq / w_sq) ** 0.5:.4f}, bf16 {(bf16_sq / w_sq) ** 0.5:.5f}")


if __name__ == "__main__":
    main()
