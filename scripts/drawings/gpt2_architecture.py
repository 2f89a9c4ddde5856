"""Draws chapters/05_gpt2_model/gpt2_architecture.svg: GPT-2's forward pass with the shape of every
tensor, the KV cache and the tied head.

Run: python3 scripts/drawings/gpt2_architecture.py (standard library only). The layout is written
out by hand below: move a box by changing its numbers.
"""
from svg import Svg

W, H = 960, 1492
s = Svg(W, H, "GPT-2's forward pass with the shape of every tensor (chapter 05). Written by "
        "scripts/drawings/gpt2_architecture.py: edit that and rerun it. B sequences, T new positions starting "
        "at pos0, C channels, NH heads of HS = C/NH channels, V tokens, L blocks.")
s.text(W / 2, 30, "GPT-2: one forward pass over T new positions pos0 … pos0+T−1 of B sequences", "title", "middle")
s.text(W / 2, 52, "GPT-2 124M: L = 12 blocks, NH = 12 heads, C = 768 channels, HS = C / NH = 64, V = 50257 tokens, "
       "maxT = 1024 positions", "sub", "middle")
s.text(W / 2, 70, "training and evaluation: pos0 = 0, no cache · the prompt: pos0 = 0, filling the cache · "
       "each new token: T = 1, pos0 = tokens so far", "sub", "middle")

ly = 90
s.rect(60, ly, 16, 12, "op", 3); s.text(82, ly + 11, "operation", "small")
s.rect(170, ly, 16, 12, "p", 3); s.text(192, ly + 11, "parameters (Hugging Face name, shape)", "small")
s.rect(460, ly, 16, 12, "cache", 3); s.text(482, ly + 11, "KV cache (generation)", "small")
s.rect(640, ly, 16, 12, "io", 3); s.text(662, ly + 11, "input / output", "small")
s.text(780, ly + 11, "(B, T, C)", "shape"); s.text(852, ly + 11, "a tensor", "small")

RX = 250                      # the residual stream
OPX, OPW = 340, 280           # operation boxes
CX = OPX + OPW / 2            # their centre
PX, PW = 665, 270             # parameter boxes
BH = 34                       # box height
FX0, FX1 = 110, 948           # the block frame

def op(y, lines, h=BH):
    s.box(OPX, y, OPW, h, lines, "op")
    return y + h

def param(y, lines, h):
    s.box(PX, y, PW, h, [(l, "param") for l in lines], "p")
    s.arrow(PX, y + h / 2, OPX + OPW + 2, y + h / 2)

def param_of(y_bottom, lines):
    """A parameter box beside the operation box that ends at y_bottom."""
    h = BH if len(lines) == 1 else BH + 6
    param(y_bottom - BH + (BH - h) / 2, lines, h)

def down(y0, y1, label):
    s.arrow(CX, y0, CX, y1)
    if label:
        s.text(CX + 10, (y0 + y1) / 2 + 4, label, "shape")

# ---- the embedding (chapter 02)
s.comment("the embedding")
ya = 122
s.box(RX - 90, ya, 180, BH, ["tokens (B, T)", ("ids in [0, V)", "small")], "io")
s.box(640, ya, 200, BH, ["positions", ("pos0 … pos0+T−1 < maxT", "small")], "io")
yb = ya + BH + 32
s.box(RX - 90, yb, 180, BH, ["wte[tokens]"], "op")
s.box(640, yb, 200, BH, ["wpe[pos0 : pos0+T]"], "op")
s.arrow(RX, ya + BH, RX, yb)
s.arrow(740, ya + BH, 740, yb)
s.box(14, yb - 3, 120, 40, [("wte.weight", "param"), ("(V, C)", "param")], "p")
s.arrow(134, yb + 17, RX - 92, yb + 17)
s.box(850, yb - 3, 100, 40, [("wpe.weight", "param"), ("(maxT, C)", "param")], "p")
s.arrow(850, yb + 17, 842, yb + 17)
py = yb + BH + 46
s.arrow(RX, yb + BH, RX, py - 11)
s.text(RX + 8, yb + BH + 20, "(B, T, C)", "shape")
s.plus(RX, py)
s.path(f"M740,{yb + BH} L740,{py} L{RX + 12},{py}")
s.text(520, py - 8, "(T, C), added to every sequence", "shape", "middle")

# ---- the block (chapter 04)
s.comment("block l")
frame_top = py + 34
s.arrow(RX, py + 10, RX, py + 80)
s.text(RX - 8, py + 26, "x₀ (B, T, C)", "shape", "end")
s.text(RX - 8, py + 74, "xₗ (B, T, C)", "shape", "end")
s.text(RX - 8, py + 90, "residual", "note", "end")
s.text(RX - 8, py + 104, "stream", "note", "end")
j1 = py + 80                     # the branch to the attention sub-layer
s.path(f"M{RX},{j1} L{CX},{j1} L{CX},{j1 + 18}")
y = op(j1 + 18, ["ln_1: LayerNorm over C"])
param_of(y, ["h.l.ln_1.weight, .bias: (C), (C)"])
down(y, y + 30, "(B, T, C)")
y = op(y + 30, ["attn.c_attn: x W + b"])
param_of(y, ["h.l.attn.c_attn.weight (C, 3C)", "h.l.attn.c_attn.bias (3C)"])
down(y, y + 30, "qkv (B, T, 3C)")
y = op(y + 30, ["split into heads"])
split_mid = y - BH / 2
down(y, y + 34, "q, k, v (B, NH, T, HS)")
att_top = y + 34
y = op(att_top, ["scores q Kᵀ / √HS, causal mask,", "softmax over the keys"], 46)
att_mid = att_top + 23
# the KV cache
cy = split_mid - 28
s.box(PX, cy, PW, 112, ["KV cache of block l", ("K, V: (B, NH, maxT, HS)", "shape"),
                       ("k, v written at rows pos0 … pos0+T−1;", "small"),
                       ("attention reads rows 0 … pos0+T−1", "small"), " "], "cache")
s.path(f"M{OPX + OPW},{split_mid} L{PX - 2},{split_mid}", "cacheline", "g")
s.text(OPX + OPW + 8, split_mid - 6, "k, v", "shape")
s.path(f"M{PX},{att_mid} L{OPX + OPW + 2},{att_mid}", "cacheline", "g")
s.text(PX + PW / 2, cy + 130, "read: K, V (B, NH, pos0+T, HS)", "shape", "middle")
s.text(PX + PW / 2, cy + 147, "without a cache: K, V are this pass's k, v", "note", "middle")
down(y, y + 30, "att (B, NH, T, pos0+T)")
y = op(y + 30, ["weighted sum of values: att V"])
down(y, y + 30, "(B, NH, T, HS)")
y = op(y + 30, ["merge heads"])
down(y, y + 30, "(B, T, C)")
y = op(y + 30, ["attn.c_proj: y W + b"])
param_of(y, ["h.l.attn.c_proj.weight (C, C)", "h.l.attn.c_proj.bias (C)"])
p1 = y + 30
s.path(f"M{CX},{y} L{CX},{p1} L{RX + 12},{p1}")
s.text(CX + 10, y + 20, "(B, T, C)", "shape")
s.plus(RX, p1)
s.arrow(RX, j1, RX, p1 - 11)
s.text(RX + 8, p1 + 26, "x₁ = xₗ + attention (B, T, C)", "shape")
j2 = p1 + 44                     # the branch to the MLP
s.path(f"M{RX},{j2} L{CX},{j2} L{CX},{j2 + 18}")
y = op(j2 + 18, ["ln_2: LayerNorm over C"])
param_of(y, ["h.l.ln_2.weight, .bias: (C), (C)"])
down(y, y + 30, "(B, T, C)")
y = op(y + 30, ["mlp.c_fc: x W + b"])
param_of(y, ["h.l.mlp.c_fc.weight (C, 4C)", "h.l.mlp.c_fc.bias (4C)"])
down(y, y + 30, "(B, T, 4C)")
y = op(y + 30, ["GELU (tanh form)"])
down(y, y + 30, "(B, T, 4C)")
y = op(y + 30, ["mlp.c_proj: h W + b"])
param_of(y, ["h.l.mlp.c_proj.weight (4C, C)", "h.l.mlp.c_proj.bias (C)"])
p2 = y + 30
s.path(f"M{CX},{y} L{CX},{p2} L{RX + 12},{p2}")
s.text(CX + 10, y + 20, "(B, T, C)", "shape")
s.plus(RX, p2)
s.path(f"M{RX},{p1 + 10} L{RX},{p2 - 11}", "line", "a")
frame_bottom = p2 + 40
s.text(RX + 8, p2 + 28, "xₗ₊₁ = x₁ + MLP (B, T, C): the next block's input", "shape")
s.rect(FX0, frame_top, FX1 - FX0, frame_bottom - frame_top, "frame", 10)
s.text(FX1 - 12, frame_top + 20, "block l, for l = 0 … L−1", "sub", "end", "bold")
s.text(FX1 - 12, frame_top + 37, "the same loop for training, the prompt and each new token", "note", "end")

# ---- the head (chapter 05)
s.comment("final LayerNorm, tied head, loss or sampling")
j3 = frame_bottom + 30
s.path(f"M{RX},{p2 + 10} L{RX},{j3} L{CX},{j3} L{CX},{j3 + 18}")
s.text(RX - 8, j3 - 6, "x_L (B, T, C)", "shape", "end")
y = op(j3 + 18, ["ln_f: LayerNorm over C"])
param_of(y, ["ln_f.weight, .bias: (C), (C)"])
down(y, y + 30, "(B, T, C)")
hy = y + 30
y = op(hy, ["head: logits = x wteᵀ"])
s.path(f"M{OPX},{hy + BH / 2} L{60},{hy + BH / 2} L{60},{yb + 38}", "tied", "o")
s.text(70, hy + BH / 2 - 7, "tied: the same wte (V, C)", "param")
y2 = y + 40
s.arrow(CX, y, CX, y2 - 12)
s.text(CX + 10, y + 24, "logits (B, T, V)", "shape")
s.path(f"M{CX},{y2 - 12} L{250},{y2 - 12} L{250},{y2}")
s.path(f"M{CX},{y2 - 12} L{730},{y2 - 12} L{730},{y2}")
s.box(60, y2, 380, 52, ["training: cross-entropy with the targets (B, T)",
                         ("loss: the mean over targets ≠ −1, one number", "small")], "loss")
s.box(520, y2, 420, 52, ["generation: the last position's logits (B, V)",
                          ("temperature, top-k, top-p, one draw (chapter 07)", "small")], "io")
y = y2 + 52
s.text(W / 2, y + 30, "One parameter buffer: wte, wpe, 12 tensors per block, ln_f (2 + 12 L + 2 tensors; "
       "124,439,808 numbers for GPT-2 124M).", "note", "middle")
s.text(W / 2, y + 48, "Training keeps every activation above for the backward pass; generation keeps only "
       "the KV cache, 2 L maxT C floats per sequence.", "note", "middle")
s.save("chapters/05_gpt2_model/gpt2_architecture.svg")
