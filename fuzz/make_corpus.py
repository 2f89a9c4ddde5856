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

# ----- fine-tuning data (chapter 10's JSONL: instruction examples and labelled texts) -----------------

def jsonl(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


write("fuzz_finetune_jsonl", "sft", jsonl([
    {"instruction": "Who speaks last in this passage?", "input": "ROMEO:\nGood night.\n\nJULIET:\nGood night!",
     "output": "JULIET"},
    {"instruction": "Say cat", "input": "", "output": "cat"},
    {"instruction": "Name a colour.", "output": "Blue."}]))
write("fuzz_finetune_jsonl", "sft_crlf_bom", "\ufeff" + jsonl([
    {"instruction": "Ça va?", "input": None, "output": "Très bien, 日本語 \U0001F600"},
    {"instruction": "Spell <|endoftext|>", "output": "<|endoftext|>", "extra": [1, 2]}]).replace("\n", "\r\n")
    + "\r\n   \n")
write("fuzz_finetune_jsonl", "alpaca_array", json.dumps([
    {"instruction": "Give three tips for staying healthy.", "input": "",
     "output": "1. Eat well.\n2. Exercise.\n3. Sleep."},
    {"instruction": "Translate", "input": "bonjour", "output": "hello"}], indent=4))
write("fuzz_finetune_jsonl", "classify", jsonl([
    {"text": "Kiss me, Kate, we will be married o' Sunday.", "label": "PETRUCHIO"},
    {"text": "I'll see thee hanged on Sunday first.", "label": "KATHARINA"},
    {"text": "aaaa " * 30, "label": "A"},
    {"text": "\u00e9\\u00e9 \t", "label": "\U0001F600"}]))
write("fuzz_finetune_jsonl", "escapes", '{"text": "\\ud83d\\ude00 \\u0000 \\n\\"", "label": "x"}\n'
      '{"text": "\\u00e9", "label": "\\/"}\n')
write("fuzz_finetune_jsonl", "sft_escapes", '{"instruction": "\\u00e9\\t", "input": "\\u0000", "output": "\\ud83d\\ude00"}')
write("fuzz_finetune_jsonl", "invalid_utf8", b'{"text": "caf\xc3\xa9", "label": "A"}\n'
      b'{"text": "caf\xe9", "label": "B"}\n')
write("fuzz_finetune_jsonl", "errors", '{"text": "a", "label": "A"}\n{"text": 3, "label": "B"}\n'
      '{"text": "", "label": "C"}\n[1]\n{"text": "a"\n')

# ----- LoRA adapters and classifier directories (chapter 10), for a base of 2 blocks, 8 channels --------

AC = 8
MODULE_SHAPES = {"attn.c_attn": (AC, 3 * AC), "attn.c_proj": (AC, AC), "mlp.c_fc": (AC, 4 * AC),
                 "mlp.c_proj": (4 * AC, AC)}


def adapter_config(**fields):
    c = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "tiny", "bias": "none",
         "fan_in_fan_out": True, "inference_mode": True, "init_lora_weights": True, "layers_pattern": None,
         "layers_to_transform": None, "lora_alpha": 8, "lora_dropout": 0.0, "modules_to_save": None,
         "peft_type": "LORA", "r": 2, "rank_pattern": {}, "revision": None, "target_modules": ["c_attn"],
         "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False}
    c.update(fields)
    return json.dumps(c, indent=2)


def adapter_weights(layers, prefix="base_model.model.transformer.", dtype="F32", score_rows=0):
    """layers: list of (block, module, r)."""
    tensors = []
    for i, module, r in layers:
        n_in, n_out = MODULE_SHAPES[module]
        for which, shape in (("A", [r, n_in]), ("B", [n_out, r])):
            values = [round(rng.gauss(0, 0.1), 3) for _ in range(math.prod(shape))]
            raw = f32(values) if dtype == "F32" else struct.pack("<%de" % len(values), *values)
            tensors.append((f"{prefix}h.{i}.{module}.lora_{which}.weight", dtype, shape, raw))
    if score_rows:
        tensors.append(("base_model.model.score.weight", "F32", [score_rows, AC],
                        f32([round(rng.gauss(0, 0.1), 3) for _ in range(score_rows * AC)])))
    return safetensors(tensors, {"format": "pt"})


def adapter_input(config_text, weights, labels=None):
    labels_text = json.dumps(labels).encode() if labels is not None else b""
    return b"\0" + config_text.encode() + b"\0" + labels_text + b"\0" + weights


write("fuzz_adapter", "c_attn", adapter_input(adapter_config(), adapter_weights(
    [(0, "attn.c_attn", 2), (1, "attn.c_attn", 2)])))
write("fuzz_adapter", "patterns", adapter_input(
    adapter_config(r=2, lora_alpha=4, use_rslora=True, layers_to_transform=[1], target_modules=["c_fc", "attn.c_attn"],
                   rank_pattern={"c_fc": 3}, alpha_pattern={"h.1.mlp.c_fc": 6}),
    adapter_weights([(1, "attn.c_attn", 2), (1, "mlp.c_fc", 3)])))
write("fuzz_adapter", "all_linear_f16_bare", adapter_input(
    adapter_config(r=1, target_modules="all-linear", exclude_modules=["h.0.mlp.c_proj"]),
    adapter_weights([(i, m, 1) for i in range(2) for m in MODULE_SHAPES if (i, m) != (0, "mlp.c_proj")],
                    prefix="base_model.model.", dtype="F16")))
write("fuzz_adapter", "classifier", adapter_input(
    adapter_config(task_type="SEQ_CLS", modules_to_save=["classifier", "score"], lora_alpha=16),
    adapter_weights([(0, "attn.c_attn", 2), (1, "attn.c_attn", 2)], score_rows=3), ["A", "B", "C"]))

classifier_config = dict(config, n_embd=AC, n_layer=2, architectures=["GPT2ForSequenceClassification"],
                         id2label={"0": "BAPTISTA", "1": "KATHARINA"}, label2id={"BAPTISTA": 0, "KATHARINA": 1},
                         pad_token_id=7)
write("fuzz_adapter", "classifier_dir", b"\1" + json.dumps(classifier_config, indent=2).encode() + b"\0" +
      safetensors([("score.weight", "F32", [2, AC], f32([round(rng.gauss(0, 0.1), 3) for _ in range(2 * AC)])),
                   ("transformer.ln_f.bias", "F32", [AC], f32([0.0] * AC))]))

# ----- gpt2 serve's request bodies (first byte: 0 completions, 1 chat completions, 2 the page's) --------

def body(endpoint, request):
    return bytes([endpoint]) + json.dumps(request, ensure_ascii=False).encode()


write("fuzz_serve_request", "completion", body(0, {
    "model": "gpt2", "prompt": "Once upon a time ### Instruction: the end", "max_tokens": 20, "temperature": 0.8,
    "top_p": 0.9, "top_k": 40, "seed": 1337, "stop": ["\n\n", "###", "the end"], "stream": True,
    "stream_options": {"include_usage": True}, "logprobs": 2, "n": 1, "echo": False, "user": "me"}))
write("fuzz_serve_request", "completion_tokens", body(0, {"prompt": [50256, 15496, 995], "max_tokens": 0,
                                                          "ignore_eos": True, "stop": "\u00e9t\u00e9"}))
write("fuzz_serve_request", "completion_batch", body(0, {"prompt": ["Ça va? 日本語 \U0001F600"], "stop": "\U0001F600",
                                                         "presence_penalty": 0, "logit_bias": {}}))
write("fuzz_serve_request", "chat", body(1, {
    "model": "gpt2", "messages": [{"role": "system", "content": "Be brief."},
                                  {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
                                  {"role": "user", "content": "Say cat"},
                                  {"role": "assistant", "content": "cat", "name": "bot"},
                                  {"role": "user", "content": "Say <|endoftext|>"}],
    "max_completion_tokens": 50, "logprobs": True, "top_logprobs": 3, "stream": False}))
write("fuzz_serve_request", "chat_bad_order", body(1, {"messages": [{"role": "assistant", "content": "hi"}]}))
write("fuzz_serve_request", "tokenize", body(2, {"text": "Hello world"}))
write("fuzz_serve_request", "logit_lens", body(2, {"text": "The cat sat", "top": 20, "id": 50256}))
write("fuzz_serve_request", "invalid_utf8", b"\1" + b'{"messages": [{"role": "user", "content": "caf\xe9"}]}')
