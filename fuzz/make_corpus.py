#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (small valid inputs, and a
few that are almost valid, for the fuzzer to mutate). Plain Python, no packages: rerun it after
changing a file format, and commit the result.

    python3 fuzz/make_corpus.py
"""
import json
import math
import os
import random
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)


def write(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ----- safetensors ----------------------------------------------------------------------------------

def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + b"".join(blobs)


def f32(values):
    return struct.pack("<%df" % len(values), *values)


rng = random.Random(1337)
write("fuzz_safetensors", "f32", safetensors([("a", "F32", [2, 3], f32([1, 2, 3, 4, 5, 6])),
                                             ("b", "F32", [1], f32([-0.5]))], {"format": "pt"}))
write("fuzz_safetensors", "mixed", safetensors([
    ("half", "F16", [2], struct.pack("<2H", 0x3C00, 0xC100)),
    ("bf", "BF16", [2], struct.pack("<2H", 0x3F80, 0x7F80)),
    ("dbl", "F64", [1], struct.pack("<d", math.pi)),
    ("ids", "I64", [3], struct.pack("<3q", 1, -2, 50256)),
    ("ids32", "I32", [2], struct.pack("<2i", 5, 6)),
    ("mask", "BOOL", [2, 2], b"\x01\x00\x01\x01"),
    ("empty", "F32", [0, 4], b"")]))
write("fuzz_safetensors", "overlap", safetensors([("a", "F32", [2], f32([1, 2]))])[:-4] + f32([3]))
# Found by the fuzzer: a header "{}" followed by NUL bytes and garbage (tests/test_safetensors.cpp).
write("fuzz_safetensors", "regression_nul_header", bytes.fromhex(
    "38000000000000007b7d0000000000007b34383838383838382e313139363135"
    "36373737373700000000000002013730306d00000000006165223a3822463116"))

# ----- config.json (and a model directory's weights after a NUL byte) --------------------------------

L, NH, C, T, V = 1, 2, 4, 4, 8
config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
          "n_layer": L, "n_head": NH, "n_embd": C, "n_positions": T, "n_ctx": T, "n_inner": None,
          "vocab_size": V, "layer_norm_epsilon": 1e-05, "scale_attn_weights": True,
          "scale_attn_by_inverse_layer_idx": False, "tie_word_embeddings": True}
config_text = json.dumps(config, indent=2) + "\n"
shapes = [("wte.weight", [V, C]), ("wpe.weight", [T, C])]
for i in range(L):
    shapes += [(f"h.{i}.ln_1.weight", [C]), (f"h.{i}.ln_1.bias", [C]),
               (f"h.{i}.attn.c_attn.weight", [C, 3 * C]), (f"h.{i}.attn.c_attn.bias", [3 * C]),
               (f"h.{i}.attn.c_proj.weight", [C, C]), (f"h.{i}.attn.c_proj.bias", [C]),
               (f"h.{i}.ln_2.weight", [C]), (f"h.{i}.ln_2.bias", [C]),
               (f"h.{i}.mlp.c_fc.weight", [C, 4 * C]), (f"h.{i}.mlp.c_fc.bias", [4 * C]),
               (f"h.{i}.mlp.c_proj.weight", [4 * C, C]), (f"h.{i}.mlp.c_proj.bias", [C])]
shapes += [("ln_f.weight", [C]), ("ln_f.bias", [C])]
weights = safetensors([(n, "F32", s, f32([round(rng.gauss(0, 0.02), 4) for _ in range(math.prod(s))]))
                       for n, s in shapes], {"format": "pt"})
write("fuzz_config_json", "tiny_config", config_text)
write("fuzz_config_json", "tiny_model", config_text.encode() + b"\0" + weights)
write("fuzz_config_json", "hub_gpt2", open(os.path.join(REPO, "tests/fixtures/12_tiny_model/config.json")).read())
write("fuzz_config_json", "old_n_ctx", json.dumps({"n_layer": 2, "n_head": 4, "n_embd": 64, "n_ctx": 32,
                                                   "vocab_size": 97, "layer_norm_epsilon": 1e-5}))

# ----- tokenizer files ----------------------------------------------------------------------------------

def byte_order():
    """GPT-2's byte order: the printable bytes first, then the rest (chapter 01's byte_unicode.h)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    return printable + [b for b in range(256) if b not in printable]


def unicode_of(b):
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    if b in printable:
        return chr(b)
    return chr(256 + [x for x in range(256) if x not in printable].index(b))


vocab = {unicode_of(b): i for i, b in enumerate(byte_order())}
merges = ["a b", "ab c", "\u0120 t", "\u0120t h", "e r"]
for m in merges:
    vocab["".join(m.split(" "))] = len(vocab)
vocab["<|endoftext|>"] = len(vocab)
vocab_text = json.dumps(vocab, ensure_ascii=False)
merges_text = "#version: 0.2\n" + "\n".join(merges) + "\n"
for naming in range(4):
    write("fuzz_tokenizer_files", f"naming{naming}", bytes([naming]) + vocab_text.encode() + b"\0" +
          merges_text.encode())
write("fuzz_tokenizer_files", "bad_merge", b"\0" + vocab_text.encode() + b"\0#version: 0.2\nab q\n")

# ----- text to encode --------------------------------------------------------------------------------

texts = {
    "english": "Hello world! It's the question: to be, or not to be?  Whitespace\t\tand\nnewlines\n\n",
    "numbers": "In 1999 there were 12345678 of them, 3.14159 and 2,718.",
    "unicode": "Ça va? Ünïcödé, 日本語のテキスト, emoji \U0001F600 and Ελληνικά.",
    "special": "one<|endoftext|>two <|endoftext|> <|endoftext",
    "contractions": "I'm you're he's we'll they'd it's DON'T 'S 're",
}
for name, text in texts.items():
    write("fuzz_encode", name, text)
write("fuzz_encode", "invalid_utf8", b"caf\xc3\xa9 \xff\xfe \xc3( \xe2\x82 \xf0\x9f\x98")
write("fuzz_encode", "shakespeare", open(os.path.join(REPO, "data/tinyshakespeare.txt"), "rb").read()[:2000])

# ----- token files (first byte: the batch shape) ------------------------------------------------------

def token_file(ids, width):
    fmt = "<%dH" % len(ids) if width == 2 else "<%dI" % len(ids)
    return b"GPT2TOKS" + struct.pack("<IIQ", 1, width, len(ids)) + struct.pack(fmt, *ids)


write("fuzz_token_file", "u16", bytes([5]) + token_file([(i * 7) % 50257 for i in range(200)], 2))
write("fuzz_token_file", "u32", bytes([17]) + token_file([(i * 7919) % 100000 for i in range(100)], 4))
write("fuzz_token_file", "truncated", bytes([2]) + token_file(list(range(64)), 2)[:-3])

# ----- a checkpoint's state.json and a run's run.json -------------------------------------------------

state = {"step": 200, "train_loader": {"epoch": 1, "position": 12, "epoch_rng_state": "11400714819323198485"},
         "elapsed_seconds": 12.5, "batch_size": 4, "seq_len": 8, "grad_accum_steps": 1,
         "seed": "1337"}
write("fuzz_state_json", "state", json.dumps(state, indent=2) + "\n")
state["train_loader"]["position"] = 1000
write("fuzz_state_json", "past_the_end", json.dumps(state))
write("fuzz_run_json", "run", json.dumps({"args": ["--data", "/home/me/runs/data", "--n-layer", "4", "--n-head", "4",
                                                   "--n-embd", "128", "--context", "128", "--batch-size", "16",
                                                   "--lr", "3e-3", "--warmup", "50", "--no-shuffle",
                                                   "--time-budget", "300", "--out", "/home/me/runs/small",
                                                   "--steps", "2512"],
                                          "config": config}, indent=2) + "\n")
write("fuzz_run_json", "init", json.dumps({"args": ["--train", "/t.bin", "--init", "/m", "--steps", "10",
                                                    "--eval-interval", "0"]}))
