"""Draws chapters/06_training/training_flow.svg: the data flow of one training step (zero, forward,
backward, clip, AdamW) between the backend's buffers and the host.

Run: python3 scripts/drawings/training_flow.py (standard library only).
"""
from svg import Svg

W, H = 980, 700
s = Svg(W, H, "The data flow of one training step (chapter 06). Written by "
        "scripts/drawings/training_flow.py: edit that and rerun it.")
s.text(W / 2, 30, "Training: one optimizer step", "title", "middle")
s.text(W / 2, 52, "params, grads, AdamW's m and v and the activations live on the backend (CPU memory, or the GPU's); "
       "token ids go in, a few numbers come out", "sub", "middle")
s.rect(14, 68, W - 28, 460, "frame", 10)
s.text(W - 26, 88, "on the backend", "sub", "end", "bold")

# ---- the state: params and grads, one buffer each
s.box(760, 112, 190, 60, ["params", ("P floats: wte, wpe, the", "small"), ("blocks, ln_f", "small")], "p")
s.box(760, 356, 190, 40, ["grads", ("P floats, same layout", "small")], "p")

# ---- ② the forward row
fy, fh = 160, 40
row = [(40, 96, ["embedding"]), (152, 80, ["block 0"]), (248, 44, ["…"]), (308, 92, ["block L−1"]),
       (416, 104, ["ln_f, head"]), (536, 104, ["cross-entropy"])]
centres = [x + w / 2 for x, w, _ in row]
for x, w, lines in row:
    s.box(x, fy, w, fh, lines, "op")
for (x0, w0, _), (x1, _, _) in zip(row, row[1:]):
    s.arrow(x0 + w0, fy + fh / 2, x1 - 2, fy + fh / 2)
s.box(656, fy + 3, 64, 34, ["loss"], "loss")
s.arrow(640, fy + fh / 2, 654, fy + fh / 2)
s.text(40, 112, "② forward over (B, T) positions, pos0 = 0, no cache", "small", None, "bold")
bus = 138  # params are read by every op
s.path(f"M{centres[0]},{bus} L{758},{bus}", "line", None)
for c in centres[:5]:
    s.arrow(c, bus, c, fy - 2)
s.text(700, bus - 6, "read", "note")

# ---- the activations
ay = 236
s.box(40, ay, 680, 32, ["activations, kept for the backward pass: LayerNorm means and rstd, qkv, attention "
                        "weights, ..."], "io")
for c in centres:
    s.arrow(c - 10, fy + fh, c - 10, ay - 2)
    s.arrow(c + 10, ay + 32, c + 10, 312, "back", "r")

# ---- ③ the backward row
by = 314
for x, w, lines in row:
    s.box(x, by, w, fh, lines, "op")
for (x0, w0, _), (x1, _, _) in zip(row, row[1:]):
    s.arrow(x1, by + fh / 2, x0 + w0 + 2, by + fh / 2, "back", "r")
s.box(656, by + 3, 64, 34, ["1 / N"], "loss")
s.arrow(656, by + fh / 2, 642, by + fh / 2, "back", "r")
gbus = 376  # every backward adds into grads
s.path(f"M{centres[0]},{gbus} L{758},{gbus}", "back", "r")
for c in centres[:5]:
    s.path(f"M{c},{by + fh} L{c},{gbus}", "back", None)
s.text(40, by + fh + 40, "③ backward: the same ops in reverse, each ADDS its gradient into grads", "small", None,
       "bold")
s.text(40, by + fh + 56, "(the tied wte receives two shares: the head's and the embedding's)", "small")
s.text(730, gbus - 6, "+=", "param")

# ---- ①, ④, ⑤
uy = 430
s.box(40, uy + 24, 170, 44, ["① zero grads", ("before the first micro-batch", "small")], "op")
s.text(40, uy + 14, "②③ K times (micro-batches), then:", "small")
s.box(240, uy + 24, 190, 44, ["④ grads ÷ K, clip", ("the global norm to max_norm", "small")], "op")
s.box(460, uy + 24, 180, 44, ["⑤ AdamW at η(step)", ("warmup, cosine, floor", "small")], "op")
s.box(670, uy + 24, 100, 44, ["m, v", ("P floats each", "small")], "p")
s.arrow(430, uy + 46, 458, uy + 46)
s.path(f"M{642},{uy + 46} L{668},{uy + 46}", "line", "a")
s.path(f"M{668},{uy + 46} L{642},{uy + 46}", "line", "a")
# grads feed ④ and ⑤; ⑤ writes params
s.path(f"M{855},{396} L{855},{uy + 4} L{335},{uy + 4} L{335},{uy + 22}")
s.path(f"M{550},{uy + 68} L{550},{uy + 84} L{966},{uy + 84} L{966},{142} L{952},{142}", "line", "a")
s.text(962, 300, "update", "note", "end")

# ---- the host
hy = 548
s.text(20, hy - 4, "on the host", "sub", None, "bold")
s.box(40, hy + 6, 330, 56, ["data loader", ("B windows of T + 1 tokens → inputs (B, T) and", "small"),
                            ("targets (B, T), the inputs shifted by one position", "small")], "io")
s.path(f"M{40},{hy + 34} L{26},{hy + 34} L{26},{fy + fh / 2} L{38},{fy + fh / 2}", "line", "a")
s.parts.append('  <text x="22" y="330" text-anchor="middle" class="note" transform="rotate(-90 22 330)">'
               'token ids</text>')
s.box(400, hy + 6, 550, 56, ["metrics.csv, the progress bar: the loss and the gradient norm read back;",
                             ("every N steps: validation, a checkpoint (params, m, v, step and the loader's "
                              "position, downloaded)", "small")], "io")
s.text(W / 2, 650, "Same seed, same data: the same loss curve bit for bit, whatever the number of threads; "
       "a resumed run continues exactly.", "note", "middle")
s.text(W / 2, 668, "Evaluation runs ② only; generation runs ② with a KV cache (chapter 07). Inference "
       "allocates no grads, m or v.", "note", "middle")
s.save("chapters/06_training/training_flow.svg")
