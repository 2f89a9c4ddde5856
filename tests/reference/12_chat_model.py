"""A tiny model with room for the chat template: tests/fixtures/12_chat_model/.

The chat template (chapters/10_finetuning/chat_template.h) spends 33 byte tokens on its markers
around a message, more than the 32-position context of 12_tiny_model. This model is the same kind
(05_model.py's random weights, 12_cli.py's byte-level tokenizer, id 256 = <|endoftext|>) with a
context of 128 positions, for the tests of `gpt2 chat` and of `gpt2 serve`'s chat. Its weights are
random: the tests check what the programs do with a conversation, not what the model says.

Usage: /usr/bin/python3 tests/reference/12_chat_model.py
"""
import importlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import fixture_path  # noqa: E402

m05 = importlib.import_module("05_model")
m12 = importlib.import_module("12_cli")

CONFIG = dict(n_layer=2, n_head=2, n_embd=32, n_positions=128, vocab_size=257, layer_norm_epsilon=1e-5)


def main():
    W = m05.make_weights(CONFIG, torch.Generator().manual_seed(12))
    m05.write_hf_dir("12_chat_model", W, CONFIG, torch.float32, "")
    m12.write_tokenizer(fixture_path("12_chat_model"))
    print("wrote", fixture_path("12_chat_model"))


if __name__ == "__main__":
    main()
