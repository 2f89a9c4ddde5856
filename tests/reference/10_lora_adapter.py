"""Fixtures for chapter 10's LoRA adapters: three adapters in Hugging Face PEFT's layout for the tiny
GPT-2 of tests/fixtures/05_hf_tiny (2 layers, 4 heads, 64 channels, 97 tokens), and the logits the
adapted model gives, for the C++ tests to reproduce by reading the adapter.

peft is not installed (Debian 12 has no package), so this script writes the files the way
`PeftModel.save_pretrained` does, from PEFT's conventions (peft/tuners/lora/layer.py,
peft/utils/save_and_load.py):
  - a LoRA layer around a Conv1D (in -> out) has lora_A = nn.Linear(in, r) and
    lora_B = nn.Linear(r, out), so the weights are lora_A.weight (r, in) and lora_B.weight (out, r);
    fan_in_fan_out is True for Conv1D;
  - the forward is result = conv1d(x) + lora_B(lora_A(x)) * scaling, with scaling = lora_alpha / r,
    or lora_alpha / sqrt(r) with use_rslora; rank_pattern / alpha_pattern override r and alpha for
    the modules whose names end with the pattern;
  - a module is adapted when its name (transformer.h.{i}.attn.c_attn, ...) equals an entry of
    target_modules or ends with "." + entry; layers_to_transform keeps the listed blocks;
  - tensor names: the PeftModel's "base_model.model." + the module's name + ".lora_A.weight"
    (the adapter name "default" removed); a sequence classifier also saves its head, `score`
    (nn.Linear(C, K, bias=False)), as base_model.model.score.weight (K, C);
  - adapter_config.json is the LoraConfig as a dict, written with sort_keys=True and indent=2.
B is random (not PEFT's zero initialisation) so that the adapters change the model.

The model is chapter 05's independent PyTorch GPT-2 (tests/reference/05_model.py, float64). The
LoRA layers enter it through its own weight dictionary: an adapted layer's weight is a LoraConv1D
object, and `h @ weight` calls its __rmatmul__, which computes PEFT's unmerged forward.

Writes:
  tests/fixtures/10_peft_adapter/      r 4, alpha 8, target_modules ["c_attn", "c_proj"] (so both
                                       c_proj layers of each block), CAUSAL_LM, F32
  tests/fixtures/10_peft_adapter_rs/   use_rslora, r 2 with rank_pattern {"c_fc": 3} and
                                       alpha_pattern {"h.1.mlp.c_fc": 6}, target_modules
                                       ["c_fc", "attn.c_attn"], layers_to_transform [1], BF16
  tests/fixtures/10_peft_adapter_cls/  SEQ_CLS with a 3-class score head, r 4, alpha 16, c_attn
  tests/fixtures/10_peft_logits.safetensors  tokens (2, 12); logits of the base model and of the
      model with each causal-LM adapter (2, 12, 97); class_logits (2, 3) of the classifier at the
      rows' last tokens `last` = [11, 6]; the merged h.0.attn.c_attn.weight of the first adapter

Usage: /usr/bin/python3 tests/reference/10_lora_adapter.py
"""
import importlib
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path, save  # noqa: E402

m05 = importlib.import_module("05_model")  # chapter 05's independent PyTorch GPT-2

MODULES = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]


def features(module, C):
    return {"attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C), "mlp.c_fc": (C, 4 * C), "mlp.c_proj": (4 * C, C)}[module]


def matches(name, entry):
    return name == entry or name.endswith("." + entry)


def pattern_value(patterns, name, default):
    for key, value in patterns.items():
        if matches(name, key):
            return value
    return default


def adapted_layers(cfg, lc):
    """[(block, module, in, out, r, scaling)] as PEFT's check_target_module_exists selects them."""
    out = []
    for i in range(cfg["n_layer"]):
        for m in MODULES:
            name = f"transformer.h.{i}.{m}"
            if not any(matches(name, t) for t in lc["target_modules"]):
                continue
            if lc.get("layers_to_transform") is not None and i not in lc["layers_to_transform"]:
                continue
            r = pattern_value(lc["rank_pattern"], name, lc["r"])
            alpha = pattern_value(lc["alpha_pattern"], name, lc["lora_alpha"])
            scaling = alpha / math.sqrt(r) if lc["use_rslora"] else alpha / r
            fin, fout = features(m, cfg["n_embd"])
            out.append((i, m, fin, fout, r, scaling))
    return out


class LoraConv1D:
    """An adapted Conv1D weight: `x @ self` is PEFT's x @ W (+ b outside) + lora_B(lora_A(x)) * scaling."""

    def __init__(self, W, A, B, scaling):
        self.W, self.A, self.B, self.scaling = W, A, B, scaling

    def __rmatmul__(self, x):
        return x @ self.W + (x @ self.A.T) @ self.B.T * self.scaling


class ScoreHead:
    """Stands for wte in the forward: rows for the embedding lookup, and `x @ wte.T` records the final
    hidden state x (the output of ln_f) instead of computing the language-model logits."""

    def __init__(self, wte):
        self.wte, self.hidden = wte, None

    def __getitem__(self, index):
        return self.wte[index]

    @property
    def T(self):
        return self

    def __rmatmul__(self, x):
        self.hidden = x
        return x @ self.wte.T


def peft_config(**overrides):
    c = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "tests/fixtures/05_hf_tiny",
         "bias": "none", "fan_in_fan_out": True, "inference_mode": True, "init_lora_weights": True,
         "layers_pattern": None, "layers_to_transform": None, "loftq_config": {}, "lora_alpha": 8,
         "lora_dropout": 0.0, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
         "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None, "target_modules": ["c_attn"],
         "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False}
    c.update(overrides)
    return c


def make_adapter(cfg, lc, gen, dtype):
    """Random factors for every adapted layer, rounded to the file's dtype; returns (tensors, layers)."""
    tensors, layers = {}, []
    for i, m, fin, fout, r, scaling in adapted_layers(cfg, lc):
        A = (torch.rand(r, fin, generator=gen) * 2 - 1) / math.sqrt(fin)  # PEFT's kaiming_uniform(a=sqrt(5)) range
        B = 0.3 * torch.randn(fout, r, generator=gen)  # a trained adapter: B != 0
        A, B = A.to(dtype), B.to(dtype)
        prefix = f"base_model.model.transformer.h.{i}.{m}"
        tensors[prefix + ".lora_A.weight"] = A
        tensors[prefix + ".lora_B.weight"] = B
        layers.append((f"h.{i}.{m}.weight", A.double(), B.double(), scaling))
    return tensors, layers


def write_adapter(dirname, lc, tensors):
    d = fixture_path(dirname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(lc, f, indent=2, sort_keys=True)
    save(os.path.join(d, "adapter_model.safetensors"), tensors, metadata={"format": "pt"})


def adapted_weights(W, layers):
    W = dict(W)
    for name, A, B, scaling in layers:
        W[name] = LoraConv1D(W[name], A, B, scaling)
    return W


def main():
    base, _ = m05.read_safetensors(fixture_path("05_hf_tiny/model.safetensors"))
    W = {k.removeprefix("transformer."): v.double() for k, v in base.items()
         if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias") and k != "lm_head.weight"}
    cfg = m05.CONFIG
    gen = torch.Generator().manual_seed(10)
    tokens = torch.randint(0, cfg["vocab_size"], (2, 12), generator=gen)
    targets = torch.zeros_like(tokens)
    out = {"tokens": tokens}
    with torch.no_grad():
        out["logits_base"] = m05.forward(W, cfg, tokens, targets)[0].float()

        lc = peft_config(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"])
        tensors, layers = make_adapter(cfg, lc, gen, torch.float32)
        write_adapter("10_peft_adapter", lc, tensors)
        out["logits_lora"] = m05.forward(adapted_weights(W, layers), cfg, tokens, targets)[0].float()
        name, A, B, scaling = layers[0]
        assert name == "h.0.attn.c_attn.weight"
        out["merged_h0_c_attn"] = (W[name] + (B @ A).T * scaling).float()  # get_delta_weight, fan_in_fan_out

        lc = peft_config(r=2, lora_alpha=4, use_rslora=True, target_modules=["c_fc", "attn.c_attn"],
                         layers_to_transform=[1], rank_pattern={"c_fc": 3}, alpha_pattern={"h.1.mlp.c_fc": 6})
        tensors, layers = make_adapter(cfg, lc, gen, torch.bfloat16)
        assert [(n, A.shape[0], s) for n, A, _, s in layers] == [
            ("h.1.attn.c_attn.weight", 2, 4 / math.sqrt(2)), ("h.1.mlp.c_fc.weight", 3, 6 / math.sqrt(3))]
        write_adapter("10_peft_adapter_rs", lc, tensors)
        out["logits_lora_rs"] = m05.forward(adapted_weights(W, layers), cfg, tokens, targets)[0].float()

        lc = peft_config(r=4, lora_alpha=16, target_modules=["c_attn"], task_type="SEQ_CLS",
                         modules_to_save=["classifier", "score"])
        tensors, layers = make_adapter(cfg, lc, gen, torch.float32)
        score = (0.5 * torch.randn(3, cfg["n_embd"], generator=gen)).float()
        tensors["base_model.model.score.weight"] = score
        write_adapter("10_peft_adapter_cls", lc, tensors)
        head = ScoreHead(W["wte.weight"])
        Wc = adapted_weights(W, layers)
        Wc["wte.weight"] = head
        m05.forward(Wc, cfg, tokens, targets)
        last = torch.tensor([11, 6])
        out["last"] = last
        out["class_logits"] = (head.hidden[torch.arange(2), last] @ score.double().T).float()

    save(fixture_path("10_peft_logits.safetensors"), out, metadata={"script": "tests/reference/10_lora_adapter.py"})
    print("max |logits_lora - logits_base| =", (out["logits_lora"] - out["logits_base"]).abs().max().item())


if __name__ == "__main__":
    main()
