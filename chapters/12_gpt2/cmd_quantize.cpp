// gpt2 quantize: a copy of a model directory with its weight matrices in bf16 or q8 (chapter 08's
// weight formats), or widened back to f32.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "chapters/08_cpu_parallel/weight_files.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

namespace {

namespace fs = std::filesystem;

int cmd_quantize(std::span<const std::string> args, CommandIO io) {
  ArgParser p(
      "gpt2 quantize",
      "Writes a copy of a model directory with its weight matrices (the four of each block and the\n"
      "tied head) in --weights bf16 (2 bytes a weight, rounded to nearest; an ordinary checkpoint that\n"
      "transformers loads) or q8 (int8 in blocks of 32 with one float scale per block: 1.125 bytes a\n"
      "weight, for gpt2 generate and gpt2 eval); the biases, LayerNorms and position table stay\n"
      "float32 (chapter 08). --weights f32 widens a bf16 or q8 directory back to float32, as gpt2\n"
      "train --init needs. The format is recorded in model.safetensors' metadata; config.json and\n"
      "the tokenizer are copied. DIR must be new or empty unless --force.");
  p.option("--model", "DIR", "model directory, or a downloaded model's name such as gpt2", "", true);
  p.option("--out", "DIR", "the new model directory (created if needed)", "", true);
  p.option("--weights", "FORMAT", "q8, bf16, or f32", "q8");
  p.flag("--force", "write into a directory that is not empty, replacing the model's files there");
  p.flag("--json", "print {\"weights\": ..., \"bytes\": ..., \"input_bytes\": ...}");
  if (!p.parse(args, io.out)) return 0;
  const WeightFormat format = parse_weight_format(p.get("--weights"), "--weights");
  const fs::path dir = resolve_model_dir(p.get("--model"));
  const fs::path out = p.get("--out");

  // Never over the input, and into a directory that holds anything only with --force.
  GPT2_CHECK(!directory_has_entries(out, "gpt2 quantize: --out") || p.given("--force"),
             "gpt2 quantize: --out: '", out.string(),
             "' is not empty; choose another directory, or give --force to replace the model's files there "
             "(model.safetensors, config.json, vocab.json, merges.txt)");
  for (const char* name : {"model.safetensors", "config.json", "vocab.json", "merges.txt"}) {
    check_not_input(out / name, dir / name, "gpt2 quantize", "--model");
  }

  // Loaded in the format asked for (a q8 input read as q8 keeps its values exactly), then written.
  BackendOptions options;
  options.weights = weight_format_name(format);
  const LoadedModel m = load_model(dir.string(), options);
  save_model_dir_as(*m.model, out, format, m.dir);

  const auto in_bytes = fs::file_size(m.dir / "model.safetensors");
  const auto out_bytes = fs::file_size(out / "model.safetensors");
  if (p.given("--json")) {
    const nlohmann::json j = {{"weights", weight_format_name(format)},
                              {"stored_weights", weight_format_name(stored_weight_format(m.dir))},
                              {"bytes", out_bytes},
                              {"input_bytes", in_bytes}};
    io.out << j.dump() << "\n";
  } else {
    char line[512];
    std::snprintf(line, sizeof line, "%s (%s, %.1f MB) -> %s (%s, %.1f MB)\n", m.dir.string().c_str(),
                  weight_format_name(stored_weight_format(m.dir)), in_bytes / 1e6, out.string().c_str(),
                  weight_format_name(format), out_bytes / 1e6);
    io.out << line;
  }
  return 0;
}

}  // namespace

void register_quantize_commands(std::vector<Command>& commands) {
  commands.push_back(
      {{"quantize"}, "copy a model with its weights in bf16 or q8 (int8), or back to f32", cmd_quantize});
}

}  // namespace gpt2
