"""A LoRA adapter in Hugging Face PEFT's layout for tests/fixtures/12_chat_model, and what the adapted
model gives, for `gpt2 eval --adapter` and `gpt2 generate --adapter` to reproduce.

The adapter is written the way `PeftModel.save_pretrained` does (tests/reference/10_lora_adapter.py
explains PEFT's names and conventions and provides the functions used here): r 4, lora_alpha 8, on
every block's attn.c_attn and mlp.c_proj, with a random B (a trained adapter, not PEFT's zero
initialisation). The model is chapter 05's independent PyTorch GPT-2 (05_model.py, float64) with
PEFT's unmerged forward at the adapted layers.

Writes:
  tests/fixtures/12_peft_adapter/        adapter_config.json, adapter_model.safetensors
  tests/fixtures/12_peft_cli.safetensors eval_ids and eval_nats (the summed negative log-likelihood
      of EVAL_TEXT, one window); prompt_ids and greedy_ids (greedy continuation of PROMPT, stopping
      at <|endoftext|> or after N_NEW tokens); also eval_nats_base, the base model's, to show that
      the adapter changes the model

Usage: /usr/bin/python3 tests/reference/12_peft_cli.py
"""
import importlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path, save  # noqa: E402

m05 = importlib.import_module("05_model")
m10 = importlib.import_module("10_lora_adapter")
m12 = importlib.import_module("12_cli")
chat = importlib.import_module("12_chat_model")

EVAL_TEXT = "To be, or not to be, that is the question."
PROMPT = "ROMEO:"
N_NEW = 24
MIN_GAP = 1e-3


def main():
    cfg = dict(chat.CONFIG)
    base, _ = m05.read_safetensors(fixture_path("12_chat_model/model.safetensors"))
    W = {k.removeprefix("transformer."): v.double() for k, v in base.items()
         if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias") and k != "lm_head.weight"}
    lc = m10.peft_config(r=4, lora_alpha=8, target_modules=["c_attn", "mlp.c_proj"],
                         base_model_name_or_path="tests/fixtures/12_chat_model")
    tensors, layers = m10.make_adapter(cfg, lc, torch.Generator().manual_seed(12), torch.float32)
    m10.write_adapter("12_peft_adapter", lc, tensors)
    Wa = m10.adapted_weights(W, layers)

    eval_ids = m12.encode(EVAL_TEXT)
    assert len(eval_ids) <= cfg["n_positions"]
    nats = m12.sliding_nats(Wa, cfg, eval_ids, cfg["n_positions"] // 2)
    nats_base = m12.sliding_nats(W, cfg, eval_ids, cfg["n_positions"] // 2)
    prompt_ids = m12.encode(PROMPT)
    greedy_ids, gap = m12.greedy(Wa, cfg, prompt_ids, N_NEW)
    print(f"eval nats {nats:.6f} (base {nats_base:.6f}); greedy {greedy_ids}, smallest top-2 gap {gap:.4g}")
    if gap < MIN_GAP:
        sys.exit("a step is a near-tie: float32 and float64 may choose differently; pick another seed")
    as_ids = lambda xs: torch.tensor(xs, dtype=torch.int64)  # noqa: E731
    save(fixture_path("12_peft_cli.safetensors"),
         {"eval_ids": as_ids(eval_ids), "eval_nats": torch.tensor([nats], dtype=torch.float64),
          "eval_nats_base": torch.tensor([nats_base], dtype=torch.float64),
          "prompt_ids": as_ids(prompt_ids), "greedy_ids": as_ids(greedy_ids)},
         metadata={"eval_text": EVAL_TEXT, "prompt": PROMPT, "script": "tests/reference/12_peft_cli.py"})


if __name__ == "__main__":
    main()
