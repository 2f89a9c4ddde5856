"""Fixture for exercise 05.4 (the model's backward wiring): a very small GPT-2, its loss and the
gradient of every parameter, from the independent PyTorch GPT-2 of 05_model.py (float64, autograd).

Some targets are -1 (ignored), so the mean runs over fewer than B * T positions and a wrong 1/N
shows. Writes tests/fixtures/05_model_backward.safetensors:
  <name>          every parameter (float32, the Hugging Face names of 05_model.py, no prefix)
  grad.<name>     its gradient
  tokens, targets (B, T) int64; logits (B, T, V); loss (1)
metadata: the configuration and B, T.

Run: /usr/bin/python3 tests/reference/05_model_backward.py
"""
import importlib.util
import os

import torch

from fixture_io import fixture_path, save

# The PyTorch GPT-2 of chapter 05's own fixtures, reused rather than written again.
_spec = importlib.util.spec_from_file_location("model05", os.path.join(os.path.dirname(__file__), "05_model.py"))
model05 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model05)

CONFIG = dict(n_layer=2, n_head=2, n_embd=16, n_positions=8, vocab_size=29, layer_norm_epsilon=1e-5)
B, T = 2, 7  # T < n_positions: the last row of wpe gets no gradient

gen = torch.Generator().manual_seed(54)
W = model05.make_weights(CONFIG, gen)
tokens = torch.randint(0, CONFIG["vocab_size"], (B, T), generator=gen)
tokens[1, 3] = tokens[0, 0]  # a token used twice: its wte row gathers both gradients
targets = torch.randint(0, CONFIG["vocab_size"], (B, T), generator=gen)
targets[0, 1] = -1
targets[1, 4] = -1
targets[1, 5] = -1  # 11 of the 14 positions have a target

W64 = {k: v.double().requires_grad_(True) for k, v in W.items()}
logits, loss = model05.forward(W64, CONFIG, tokens, targets)
loss.backward()

out = {}
for name in model05.param_names(CONFIG["n_layer"]):
    out[name] = W[name]
for name in model05.param_names(CONFIG["n_layer"]):
    out["grad." + name] = W64[name].grad.float()
out.update({"tokens": tokens, "targets": targets, "logits": logits.detach().float(),
            "loss": loss.detach().float().reshape(1)})
meta = dict(CONFIG, B=B, T=T, torch=torch.__version__)
save(fixture_path("05_model_backward.safetensors"), out, metadata=meta)
print(f"wrote 05_model_backward.safetensors: loss {loss.item():.9g}")
