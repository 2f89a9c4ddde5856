"""Fixture for chapters/10_finetuning/tests: dropout, the classification head and its loss, the
masked (SFT) cross-entropy and LoRA on a Conv1D layer, forward and backward, computed by PyTorch.

- dropout: torch's own F.dropout in training mode (inverted dropout, survivors scaled by 1/(1-p)).
  Its mask comes from torch's generator, not ours, so the fixture stores it (read off as
  out != 0; the inputs are never 0) and the C++ test applies that same mask.
- classifier: transformers' GPT2ForSequenceClassification pooling, written out: the hidden state
  of each row's last token (rows are padded after it), a bias-free nn.Linear(C, K), and
  F.cross_entropy over the K classes (mean over rows).
- sft: the causal-LM loss of transformers with labels = -100 outside the assistant's tokens:
  logits[:, :-1] against labels[:, 1:], F.cross_entropy(ignore_index=-100), mean over the
  counted tokens. One row ends in padding.
- lora: PEFT's LoRA around a Conv1D, written out as peft.tuners.lora.Linear computes it
  (lora_dropout = 0): x @ W + b + lora_B(lora_A(x)) * scaling with lora_A = nn.Linear(C, r),
  lora_B = nn.Linear(r, OC), scaling = alpha / r (alpha / sqrt(r) with use_rslora), and the
  merged weight W + transpose(B @ A) * scaling (fan_in_fan_out = True for Conv1D).

As in every fixture script: inputs drawn in float64 and rounded to float32 (what the C++ test
reads); expected values computed in float64 from the rounded inputs, stored as float32.

Run: /usr/bin/python3 tests/reference/10_finetuning_ops.py
(writes tests/fixtures/10_finetuning_ops.safetensors)
"""
import math

import torch
import torch.nn.functional as F

from fixture_io import fixture_path, save

torch.manual_seed(10)
tensors = {}


def randn(*shape, scale=1.0, shift=0.0):
    t = shift + scale * torch.randn(*shape, dtype=torch.float64)
    return t.to(torch.float32).to(torch.float64).requires_grad_()


def store(prefix, **named):
    for key, t in named.items():
        tensors[f"{prefix}.{key}"] = t.detach().float() if t.is_floating_point() else t.detach().long()


def backward_with_random_grad(out):
    dout = randn(*out.shape).detach()
    out.backward(dout)
    return dout


# --- dropout: torch's mask; inputs shifted away from 0 so that out == 0 means "dropped".
for name, shape, p in [("dropout_p01", (6, 9), 0.1), ("dropout_p05", (4, 5, 7), 0.5)]:
    x = randn(*shape)
    with torch.no_grad():
        x += torch.sign(x) * 0.1
    out = F.dropout(x, p=p, training=True)
    dout = backward_with_random_grad(out)
    keep = (out.detach() != 0).long()
    store(name, inp=x, out=out, dout=dout, dinp=x.grad, keep=keep)
    tensors[f"{name}.p"] = torch.tensor([p], dtype=torch.float32)

# --- classification head on the last token, cross-entropy over K classes.
B, T, C, K = 3, 5, 8, 4
hidden = randn(B, T, C)
last = torch.tensor([4, 2, 0])  # row 0 fills the context; rows 1 and 2 are padded after their last token
labels = torch.tensor([1, 3, 0])
weight = randn(K, C, scale=0.3)
pooled = hidden[torch.arange(B), last]
logits = pooled @ weight.T
logits.retain_grad()
loss = F.cross_entropy(logits, labels)
loss.backward()
store("classifier", hidden=hidden, last=last, labels=labels, weight=weight, logits=logits,
      loss=loss.reshape(1), dlogits=logits.grad, dhidden=hidden.grad, dweight=weight.grad)

# --- the SFT loss: labels are the tokens where the assistant speaks, -100 elsewhere; row 1 is
# padded after its end-of-turn token (mask 0 there).
B, T, V = 2, 8, 13
tokens = torch.randint(0, V, (B, T))
assistant = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1],
                          [0, 0, 0, 0, 1, 1, 0, 0]], dtype=torch.bool)
logits = randn(B, T, V, scale=2.0)
labels = torch.where(assistant, tokens, torch.full_like(tokens, -100))
loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
loss.backward()
store("sft", tokens=tokens, assistant=assistant.long(), logits=logits, loss=loss.reshape(1), dlogits=logits.grad)


# --- LoRA on a Conv1D layer (C -> OC), PEFT's shapes: A (r, C), B (OC, r).
def lora_case(name, N, C, OC, r, alpha, rslora):
    x, W, b = randn(N, C), randn(C, OC, scale=0.3), randn(OC, scale=0.1)
    A, Bm = randn(r, C, scale=0.4), randn(OC, r, scale=0.4)  # B != 0: a trained adapter
    scaling = alpha / math.sqrt(r) if rslora else alpha / r
    lora_A = lambda t: t @ A.T  # nn.Linear(C, r, bias=False)
    lora_B = lambda t: t @ Bm.T  # nn.Linear(r, OC, bias=False)
    out = x @ W + b + lora_B(lora_A(x)) * scaling
    dout = backward_with_random_grad(out)
    merged = W.detach() + (Bm.detach() @ A.detach()).T * scaling
    store(name, inp=x, weight=W, bias=b, lora_A=A, lora_B=Bm, out=out, dout=dout, dinp=x.grad, dlora_A=A.grad,
          dlora_B=Bm.grad, merged_weight=merged)
    tensors[f"{name}.scaling"] = torch.tensor([scaling], dtype=torch.float32)


lora_case("lora_r3", N=5, C=8, OC=24, r=3, alpha=6, rslora=False)  # c_attn-like: OC = 3C, scaling 2
lora_case("lora_r1", N=1, C=6, OC=6, r=1, alpha=1, rslora=False)   # rank 1, one row
lora_case("lora_rs", N=4, C=12, OC=5, r=4, alpha=8, rslora=True)   # use_rslora: scaling 8 / sqrt(4) = 4

save(fixture_path("10_finetuning_ops.safetensors"), tensors, metadata={"script": "tests/reference/10_finetuning_ops.py"})
