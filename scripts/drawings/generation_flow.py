"""Draws chapters/07_sampling/generation_flow.svg: prefill, then decode steps with the KV cache, the
sampler and the streaming printer.

Run: python3 scripts/drawings/generation_flow.py (standard library only).
"""
from svg import Svg

W, H = 980, 620
s = Svg(W, H, "The data flow of generation with the KV cache (chapter 07). Written by "
        "scripts/drawings/generation_flow.py: edit that and rerun it.")
s.text(W / 2, 30, "Generation: prefill the prompt once, then one position per new token", "title", "middle")
s.text(W / 2, 52, "both steps are the model's one forward pass (chapter 05) with a KV cache; only T and pos0 differ",
       "sub", "middle")

# ---- the prompt
ay = 76
s.box(40, ay, 150, 40, ["prompt text", ("\"ROMEO:\"", "small")], "io")
s.box(230, ay, 190, 40, ["tokenizer.encode", ("chapter 01", "small")], "op")
s.box(460, ay, 200, 40, ["ids x₀ … x_P−1", ("1 ≤ P ≤ maxT tokens", "small")], "io")
s.arrow(190, ay + 20, 228, ay + 20)
s.arrow(420, ay + 20, 458, ay + 20)

# ---- ① prefill
py = 160
s.box(40, py, 380, 58, ["① prefill: forward over T = P positions, pos0 = 0",
                        ("writes K, V of positions 0 … P−1 in every block;", "small"),
                        ("matrix-matrix products, the fast kind", "small")], "op")
s.path(f"M560,{ay + 40} L560,{ay + 60} L230,{ay + 60} L230,{py - 2}")
s.box(460, py + 9, 200, 40, ["logits (1, P, V)", ("only the last row (1, V) is used", "small")], "io")
s.arrow(420, py + 29, 458, py + 29)

# ---- ② decode
dy = 300
s.box(40, dy, 380, 58, ["② decode step: forward over T = 1, pos0 = n",
                        ("writes K, V row n, attends over rows 0 … n,", "small"),
                        ("in every block; matrix-vector products", "small")], "op")
s.box(460, dy + 9, 200, 40, ["logits (1, 1, V)"], "io")
s.arrow(420, dy + 29, 458, dy + 29)

# ---- the sampler, shared by both
sx, sy, sw, sh = 690, 150, 160, 218
s.box(sx, sy, sw, sh, ["sampler (seeded)", ("z / temperature", "small"), ("→ softmax", "small"),
                       ("→ keep the top k", "small"), ("→ keep the nucleus p", "small"),
                       ("→ one draw, u ~ U[0, 1)", "small"), ("(greedy: the argmax)", "small")], "op")
s.arrow(660, py + 29, sx - 2, py + 29)
s.arrow(660, dy + 29, sx - 2, dy + 29)
s.box(870, 235, 96, 48, ["next token", ("its id", "small")], "io")
s.arrow(sx + sw, 259, 868, 259)
s.text(918, 194, "stop at", "small", "middle")
s.text(918, 208, "<|endoftext|> or", "small", "middle")
s.text(918, 222, "max_new_tokens", "small", "middle")

# ---- fed back and printed
fb = 392
s.path(f"M918,283 L918,{fb} L20,{fb} L20,{dy + 29} L38,{dy + 29}", "line", "a")
s.text(470, fb - 6, "fed back as the input of the next decode step, at position n = P, P + 1, …", "note", "middle")
oy = 420
s.box(40, oy, 200, 40, ["token's bytes", ("tokenizer, chapter 01", "small")], "op")
s.box(280, oy, 260, 40, ["Utf8Stream", ("prints complete characters only", "small")], "op")
s.box(580, oy, 150, 40, ["stdout"], "io")
s.arrow(240, oy + 20, 278, oy + 20)
s.arrow(540, oy + 20, 578, oy + 20)
s.arrow(140, fb, 140, oy - 2)

# ---- the cache
cy = 492
s.text(40, cy, "The KV cache of one block: K and V, (1, NH, maxT, HS) each, row t for position t "
       "(GPT-2 124M, all 12 blocks: 2 · 12 · 1024 · 768 floats, 75 MB)", "small", None, "bold")
cells, cw, ch, x0 = 33, 27, 24, 40
P, n = 9, 15
for t in range(cells):
    fill = "#bfe5c8" if t < P else ("#e6f5e9" if t < n else ("#2e8b47" if t == n else "#ffffff"))
    s.parts.append(f'  <rect x="{x0 + t * cw}" y="{cy + 12}" width="{cw - 2}" height="{ch}" rx="3" '
                   f'fill="{fill}" stroke="#2e8b47" stroke-width="1"/>')
s.text(x0 + P * cw / 2, cy + 54, "① rows 0 … P−1", "small", "middle")
s.text(x0 + (P + n) * cw / 2, cy + 54, "② one row per step", "small", "middle")
s.text(x0 + n * cw + 12, cy + 70, "row n, now", "small", "middle")
s.text(x0 + (n + 1 + cells) * cw / 2, cy + 54, "free, up to row maxT − 1", "small", "middle")
s.text(40, cy + 96, "When the cache is full the sliding window keeps the last maxT / 2 tokens, empties it and "
       "prefills them again at positions 0 … maxT/2 − 1.", "note")
s.text(40, cy + 114, "Without the cache every new token would rerun all its predecessors: each step would cost "
       "more than the last.", "note")
s.save("chapters/07_sampling/generation_flow.svg")
