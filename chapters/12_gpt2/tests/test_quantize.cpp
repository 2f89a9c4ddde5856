// gpt2 quantize and the --weights option of generate and eval (chapter 08's weight formats), run
// in-process on the tiny model: what the files hold, that generation and evaluation run in each
// format, that a q8 directory evaluates exactly as the float directory converted on load, and the
// errors.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chapters/08_cpu_parallel/weight_files.h"
#include "chapters/12_gpt2/tests/cli_harness.h"
#include "common/file_io.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using gpt2_test::contains;
using gpt2_test::Result;

Result run(std::vector<std::string> args) {
  return gpt2_test::gpt2_run(std::move(args));
}

const std::string kTinyModel = gpt2::fixture_dir() + "/12_tiny_model";

// A few lines of text for gpt2 eval.
std::string text_file(const fs::path& dir) {
  const std::string path = (dir / "text.txt").string();
  gpt2::write_file_atomic(
      path,
      "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
      "First Citizen:\nYou are all resolved rather to die than to famish?\n");
  return path;
}

json eval_json(const std::string& model, const std::string& input, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"eval", "--model", model, "--input", input, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const Result r = run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("gpt2 quantize writes q8 and bf16 directories that generate and eval read", "[program][formats]") {
  const fs::path d = gpt2::test_temp_dir("12_quantize");
  const std::string text = text_file(d);
  const std::string q8 = (d / "q8").string(), bf16 = (d / "bf16").string();
  Result r = run({"quantize", "--model", kTinyModel, "--out", q8, "--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json summary = json::parse(r.out);
  CHECK(summary.at("weights") == "q8");
  CHECK(summary.at("stored_weights") == "f32");
  CHECK(summary.at("bytes").get<double>() < 0.5 * summary.at("input_bytes").get<double>());
  for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
    CHECK(fs::exists(d / "q8" / f));
  CHECK(gpt2::stored_weight_format(q8) == gpt2::WeightFormat::q8);
  r = run({"quantize", "--model", kTinyModel, "--out", bf16, "--weights", "bf16"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "(f32, "));
  CHECK(contains(r.out, "(bf16, "));
  CHECK(gpt2::SafetensorsFile::open(d / "bf16" / "model.safetensors").info("wte.weight").dtype ==
        gpt2::DType::BF16);

  // Generation from the q8 directory runs in q8 and reports its speed.
  r = run({"generate", "--model", q8, "--prompt", "To be", "--max-new-tokens", "5", "--greedy", "--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json g = json::parse(r.out);
  CHECK(g.at("weights") == "q8");
  CHECK(g.at("tokens").size() == 5);
  CHECK(g.at("tokens_per_sec").get<double>() > 0);
  CHECK(g.at("prefill_seconds").get<double>() >= 0);

  // The q8 directory evaluates exactly as the float one converted to q8 on load (the same
  // quantization, the same kernels); in bf16 likewise; all close to float32.
  const json f32 = eval_json(kTinyModel, text);
  CHECK(f32.at("weights") == "f32");
  const json q8_dir = eval_json(q8, text), q8_on_load = eval_json(kTinyModel, text, {"--weights", "q8"});
  CHECK(q8_dir.at("weights") == "q8");
  CHECK(q8_dir.at("loss").get<double>() == q8_on_load.at("loss").get<double>());
  const json bf16_dir = eval_json(bf16, text),
             bf16_on_load = eval_json(kTinyModel, text, {"--weights", "bf16"});
  CHECK(bf16_dir.at("weights") == "bf16");
  CHECK(bf16_dir.at("loss").get<double>() == bf16_on_load.at("loss").get<double>());
  for (const json& j : {q8_dir, bf16_dir, eval_json(q8, text, {"--q8-activations", "f32"})}) {
    CHECK(std::fabs(j.at("loss").get<double>() - f32.at("loss").get<double>()) <
          0.02 * f32.at("loss").get<double>());
  }

  // Widened back to f32: an ordinary float checkpoint of the q8 values, which float32 evaluates as q8
  // with float activations computes (the same function, other kernels).
  r = run({"quantize", "--model", q8, "--out", (d / "back").string(), "--weights", "f32"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(gpt2::stored_weight_format(d / "back") == gpt2::WeightFormat::f32);
  const json back = eval_json((d / "back").string(), text);
  const json q8_float = eval_json(q8, text, {"--q8-activations", "f32"});
  CHECK(std::fabs(back.at("loss").get<double>() - q8_float.at("loss").get<double>()) <
        1e-5 * q8_float.at("loss").get<double>());
  // q8 quantized again: the same file.
  r = run({"quantize", "--model", q8, "--out", (d / "again").string()});
  REQUIRE(r.status == 0);
  CHECK(gpt2::read_file(d / "again" / "model.safetensors") ==
        gpt2::read_file(d / "q8" / "model.safetensors"));
}

TEST_CASE("q8 weights: train refuses them, the flags are checked", "[program][formats]") {
  const fs::path d = gpt2::test_temp_dir("12_quantize_errors");
  const std::string text = text_file(d);
  const std::string q8 = (d / "q8").string();
  REQUIRE(run({"quantize", "--model", kTinyModel, "--out", q8}).status == 0);

  // Training starts from float weights: a q8 directory is refused with the way out.
  Result r = run({"prepare", "--input", text, "--tokenizer", q8, "--out", (d / "data").string(),
                  "--val-fraction", "0.3"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  r = run({"train", "--init", q8, "--data", (d / "data").string(), "--out", (d / "run").string(), "--steps",
           "1", "--batch-size", "1", "--no-progress"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "holds weights in the format 'q8'"));
  CHECK(contains(r.err, "gpt2 quantize --model DIR --out NEW_DIR --weights f32"));

  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"eval", "--model", kTinyModel, "--input", text, "--weights", "q4"},
       "--weights: unknown weight format 'q4' (expected f32, bf16 or q8)"},
      {{"generate", "--model", kTinyModel, "--prompt", "x", "--weights", "q8", "--device", "cuda"},
       "--weights q8: the bf16 and q8 kernels run on the CPU (chapter 08); with --device cuda use --weights "
       "f32"},
      {{"generate", "--model", kTinyModel, "--prompt", "x", "--weights", "bf16", "--plain-kernels"},
       "--plain-kernels: the plain loops compute in f32; --weights bf16 runs on chapter 08's kernels"},
      {{"eval", "--model", q8, "--input", text, "--q8-activations", "int4"},
       "--q8-activations: expected q8 or f32, got 'int4'"},
      {{"quantize", "--model", kTinyModel, "--out", q8}, "gpt2 quantize: --out: '" + q8 + "' is not empty"},
      {{"quantize", "--model", q8, "--out", q8, "--force"}, "would overwrite --model"},
      {{"quantize", "--model", kTinyModel, "--out", (d / "x").string(), "--weights", "int8"},
       "--weights: unknown weight format 'int8'"},
  };
  for (const auto& [args, message] : cases) {
    r = run(args);
    INFO(args[0] << " " << args.back() << ": " << r.err);
    CHECK(r.status == 1);
    CHECK(contains(r.err, message));
  }
  // On the plain loops a q8 directory is widened to float (it runs, in f32).
  r = run({"eval", "--model", q8, "--input", text, "--plain-kernels", "--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(json::parse(r.out).at("weights") == "f32");
}
