// The gpt2 program's model commands (prepare, train, generate, eval) run in-process: the PyTorch
// reference for greedy generation and evaluation, the whole path on a slice of tiny Shakespeare,
// exact resume, and the errors of every command.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/metrics.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/prepare.h"
#include "chapters/12_gpt2/tests/cli_harness.h"
#include "chapters/12_gpt2/text_eval.h"
#include "common/file_io.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using gpt2_test::contains;
using gpt2_test::Result;

Result run(std::vector<std::string> args, const std::string& input = "") {
  return gpt2_test::gpt2_run(std::move(args), input);
}

// A fresh, empty directory under the system's temporary directory.
fs::path temp_dir(const std::string& name) {
  return gpt2::test_temp_dir("12_" + name);
}

std::vector<int> ints(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int> out;
  for (int64_t x : f.get_int(name)) out.push_back(static_cast<int>(x));
  return out;
}

const std::string kTinyModel = gpt2::fixture_dir() + "/12_tiny_model";

gpt2::SafetensorsFile reference() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/12_cli.safetensors");
}

// Relative difference, for the checks against the float64 reference.
double rel(double ours, double ref) {
  return std::fabs(ours - ref) / std::fabs(ref);
}

}  // namespace

// ----- against PyTorch (tests/reference/12_cli.py) -------------------------------------------------

TEST_CASE("gpt2 generate --greedy equals the PyTorch reference token for token", "[program][parity]") {
  const auto ref = reference();
  // 19 prompt tokens + 40 new ones pass the 32-token context: the sliding window is part of it.
  const bool plain = GENERATE(false, true);
  std::vector<std::string> args = {
      "generate",         "--model", kTinyModel, "--prompt", ref.metadata().at("prompt"),
      "--max-new-tokens", "40",      "--greedy", "--json"};
  if (plain) args.push_back("--plain-kernels");
  INFO("plain kernels " << plain);
  Result r = run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json j = json::parse(r.out);
  CHECK(j.at("prompt_tokens").get<std::vector<int>>() == ints(ref, "prompt_ids"));
  CHECK(j.at("tokens").get<std::vector<int>>() == ints(ref, "greedy_ids"));
  CHECK(j.at("text").is_string());
}

TEST_CASE("--model NAME finds a downloaded model by name", "[program]") {
  // As `--model gpt2` finds models/gpt2: here GPT2_MODELS_DIR points at the fixtures.
  ::setenv("GPT2_MODELS_DIR", gpt2::fixture_dir().c_str(), 1);
  CHECK(gpt2::resolve_model_dir("12_tiny_model") == fs::path(gpt2::fixture_dir()) / "12_tiny_model");
  Result r =
      run({"generate", "--model", "12_tiny_model", "--prompt", "To be", "--max-new-tokens", "3", "--greedy"});
  ::unsetenv("GPT2_MODELS_DIR");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.rfind("To be", 0) == 0);
  CHECK(gpt2::resolve_model_dir(kTinyModel) == fs::path(kTinyModel));  // a directory is itself
  CHECK_THROWS_WITH(gpt2::resolve_model_dir("gpt2-xl-missing"), Catch::Contains("neither a directory"));
}

// Tolerance: the reference sums float64 log-probabilities; ours come from float32 logits of a
// 2-layer, 32-channel model (each about 1e-7 relative) summed in double: 1e-5 leaves a wide margin.
TEST_CASE("gpt2 eval equals the PyTorch sliding-window reference", "[program][parity]") {
  const auto ref = reference();
  const fs::path dir = temp_dir("eval_parity");
  gpt2::write_file_atomic(dir / "text.txt", ref.metadata().at("eval_text"));
  const size_t n = ints(ref, "eval_ids").size();  // one byte per token with this tokenizer
  for (const auto& [stride, name] : std::vector<std::pair<std::string, std::string>>{
           {"", "eval_nats_s16"}, {"16", "eval_nats_s16"}, {"32", "eval_nats_s32"}, {"5", "eval_nats_s5"}}) {
    std::vector<std::string> args = {"eval",  "--model", kTinyModel, "--input", (dir / "text.txt").string(),
                                     "--json"};
    if (!stride.empty()) args.insert(args.end(), {"--stride", stride});
    if (stride == "5") args.insert(args.end(), {"--batch-size", "3"});  // a short last batch
    INFO("stride " << (stride.empty() ? "default" : stride));
    Result r = run(args);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const json j = json::parse(r.out);
    const double nats = ref.get_vector(name)[0];
    CHECK(j.at("tokens").get<size_t>() == n);
    CHECK(j.at("predicted_tokens").get<size_t>() == n - 1);
    CHECK(j.at("bytes").get<size_t>() == n - 1);
    CHECK(j.at("chars").get<size_t>() == n - 1);  // ASCII
    CHECK(rel(j.at("nats_per_char").get<double>(), nats / (n - 1)) < 1e-5);
    CHECK(rel(j.at("loss").get<double>(), nats / (n - 1)) < 1e-5);
    CHECK(rel(j.at("perplexity").get<double>(), std::exp(nats / (n - 1))) < 1e-4);
    CHECK(rel(j.at("bits_per_byte").get<double>(), nats / (std::numbers::ln2 * (n - 1))) < 1e-5);
  }
}

// ----- the sliding window and the byte count --------------------------------------------------------

TEST_CASE("plan_eval_windows: every token after the first is predicted once, with enough context",
          "[program]") {
  for (int64_t N : {0, 1, 2, 5, 17, 33, 100, 257}) {
    for (int maxT : {1, 4, 16, 32}) {
      for (int stride : {1, 3, maxT / 2, maxT}) {
        if (stride < 1 || stride > maxT) continue;
        INFO("N " << N << " maxT " << maxT << " stride " << stride);
        const auto windows = gpt2::plan_eval_windows(N, maxT, stride);
        if (N < 2) {
          CHECK(windows.empty());
          continue;
        }
        std::vector<int> times(static_cast<size_t>(N), 0);
        for (size_t k = 0; k < windows.size(); ++k) {
          const auto& w = windows[k];
          CHECK(w.length == windows[0].length);
          CHECK(w.length <= maxT);
          CHECK(w.start >= 0);
          CHECK(w.start + w.length <= N - 1);  // the last input is x_{N-2} at the latest
          for (int64_t t = w.first_target; t <= w.start + w.length; ++t) {
            ++times[static_cast<size_t>(t)];
            if (k > 0) CHECK(t - w.start >= maxT - stride + 1);  // context of x_t: x_start .. x_{t-1}
          }
        }
        CHECK(times[0] == 0);
        for (int64_t t = 1; t < N; ++t) CHECK(times[static_cast<size_t>(t)] == 1);
        if (stride == maxT && N - 1 >= maxT)
          CHECK(windows.size() == static_cast<size_t>((N - 1 + maxT - 1) / maxT));
      }
    }
  }
}

TEST_CASE("evaluate_text counts the bytes of the predicted tokens and matches one forward pass",
          "[program]") {
  // GPT-2's tokenizer (multi-byte tokens) with a tiny random model of its vocabulary size.
  const gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model(gpt2::GPT2Config::make(1, 2, 8, 32, tok.vocab_size()), cpu);
  model.init_random(5);
  const std::string text = "Wherefore art thou Romeo? Ça va, ünïcödé.";
  const std::vector<int> ids = tok.encode(text);
  REQUIRE(ids.size() >= 3);
  REQUIRE(ids.size() - 1 <= 32);  // one window
  const gpt2::TextEval r = gpt2::evaluate_text(model, tok, ids);
  CHECK(r.tokens == static_cast<int64_t>(ids.size()));
  CHECK(r.predicted == r.tokens - 1);
  CHECK(r.bytes == static_cast<int64_t>(text.size() - tok.token_bytes(ids[0]).size()));
  // 41 characters (Ç, ü, ï, ö, é are two bytes each), less those of the first token (ASCII).
  const auto chars = static_cast<int64_t>(41 - tok.token_bytes(ids[0]).size());
  CHECK(r.chars == chars);
  CHECK(rel(r.nats_per_char, r.total_nats / static_cast<double>(chars)) < 1e-12);
  // The same sum from chapter 05's forward pass over the whole text.
  std::vector<int> inputs(ids.begin(), ids.end() - 1), targets(ids.begin() + 1, ids.end());
  const float mean = model.forward(inputs.data(), targets.data(), 1, static_cast<int>(inputs.size()));
  CHECK(rel(r.loss, mean) < 1e-6);
  CHECK(rel(r.bits_per_byte, r.total_nats / (std::numbers::ln2 * r.bytes)) < 1e-12);
  CHECK_THROWS_WITH(gpt2::evaluate_text(model, tok, std::vector<int>{ids[0]}),
                    Catch::Contains("at least 2 are needed"));
}

TEST_CASE("split_point cuts at a line start near the fraction", "[program]") {
  const std::string text = "aaaa\nbbbb\ncccc\ndddd\n";  // 20 bytes, lines start at 0, 5, 10, 15
  CHECK(gpt2::split_point(text, 0.0) == text.size());
  CHECK(gpt2::split_point(text, 0.25) == 15);  // exactly at a line start
  CHECK(gpt2::split_point(text, 0.3) == 15);   // 14 is inside "cccc\n": the next line
  CHECK(gpt2::split_point(text, 0.5) == 10);
  CHECK(gpt2::split_point("no line breaks at all", 0.5) == 10);  // 21 bytes, 11 for validation
  CHECK(gpt2::split_point("ab\xC3\xA9\xC3\xA9", 0.3) == 4);      // 6 bytes, cut at 4: a character start
  CHECK(gpt2::split_point("ab\xC3\xA9\xC3\xA9", 0.5) == 4);      // 3 is inside é: moved to 4
}

// ----- the whole path ----------------------------------------------------------------------------------

TEST_CASE("tokenizer train, prepare, train, eval, generate, resume on a slice of tiny Shakespeare",
          "[program]") {
  const fs::path dir = temp_dir("end_to_end");
  const std::string text = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt").substr(0, 30000);
  gpt2::write_file_atomic(dir / "text.txt", text);
  const std::string d = dir.string();

  Result r =
      run({"tokenizer", "train", "--input", d + "/text.txt", "--vocab-size", "300", "--out", d + "/tok"});
  INFO(r.err);
  REQUIRE(r.status == 0);

  r = run({"prepare", "--input", d + "/text.txt", "--tokenizer", d + "/tok", "--out", d + "/data", "--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json meta = json::parse(r.out);
  // The same split with a tokenizer trained on the training part only.
  Result trained =
      run({"prepare", "--input", d + "/text.txt", "--vocab-size", "280", "--out", d + "/data2", "--json"});
  INFO(trained.err);
  REQUIRE(trained.status == 0);
  CHECK(json::parse(trained.out).at("train").at("bytes") == meta.at("train").at("bytes"));
  CHECK(gpt2::Tokenizer::load(dir / "data2" / "tokenizer").vocab_size() == 280);
  const size_t train_bytes = meta.at("train").at("bytes"), val_bytes = meta.at("val").at("bytes");
  CHECK(train_bytes + val_bytes == text.size());
  CHECK(text[train_bytes - 1] == '\n');
  CHECK(gpt2::read_file(dir / "data" / "val.txt") == text.substr(train_bytes));
  CHECK(fs::exists(dir / "data" / "train.bin"));
  CHECK(fs::exists(dir / "data" / "val.bin"));
  // The token files hold the tokenizer's encoding of each part.
  const gpt2::Tokenizer tok = gpt2::Tokenizer::load(dir / "tok");
  CHECK(meta.at("val").at("tokens").get<size_t>() == tok.encode(text.substr(train_bytes)).size());

  const std::vector<std::string> train_args = {
      "train", "--data",          d + "/data", "--n-layer",    "1",  "--n-head",
      "2",     "--n-embd",        "16",        "--context",    "32", "--batch-size",
      "4",     "--steps",         "6",         "--warmup",     "2",  "--lr",
      "3e-3",  "--eval-interval", "3",         "--eval-steps", "2",  "--checkpoint-interval",
      "3",     "--no-progress"};
  auto train_into = [&](const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = train_args;
    args.insert(args.end(), {"--out", d + "/" + out});
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  r = train_into("run", {"--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json summary = json::parse(r.out);
  CHECK(summary.at("completed_steps") == 6);
  CHECK(summary.at("stopped_by") == "steps");
  CHECK(summary.at("val_loss").get<double>() > 0);
  // The kernel set the losses were computed with (they differ in the last bits between sets).
  CHECK(summary.at("kernels") == gpt2::simd_name(gpt2::active_simd()));
  for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
    CHECK(fs::exists(dir / "run" / "model" / f));
  for (const char* f : {"metrics.csv", "loss.svg", "run.json", "summary.json"})
    CHECK(fs::exists(dir / "run" / f));
  const auto rows = gpt2::read_metrics_csv(dir / "run" / "metrics.csv");
  REQUIRE(rows.size() == 6);
  CHECK(std::isfinite(rows[2].val_loss));
  CHECK(rows.back().train_loss < rows.front().train_loss);

  // eval on the validation text, through the saved model directory.
  r = run({"eval", "--model", d + "/run/model", "--input", d + "/data/val.txt", "--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json ev = json::parse(r.out);
  CHECK(ev.at("tokens").get<size_t>() == meta.at("val").at("tokens").get<size_t>());
  CHECK(ev.at("loss").get<double>() > 0);
  CHECK(ev.at("loss").get<double>() < std::log(300.0) + 0.5);  // a little better than chance after 6 steps
  CHECK(ev.at("bits_per_byte").get<double>() > 0);

  // generate: the same seed gives the same text; streaming prints the prompt and the new text.
  auto gen = [&](const std::string& seed, bool json_out) {
    std::vector<std::string> args = {"generate",
                                     "--model",
                                     d + "/run/model",
                                     "--prompt",
                                     "ROMEO:",
                                     "--seed",
                                     seed,
                                     "--max-new-tokens",
                                     "12",
                                     "--temperature",
                                     "0.9",
                                     "--top-k",
                                     "50",
                                     "--top-p",
                                     "0.95",
                                     "--no-stop"};
    if (json_out) args.push_back("--json");
    return run(args);
  };
  Result g1 = gen("7", true), g2 = gen("7", true), g3 = gen("8", true);
  INFO(g1.err);
  REQUIRE(g1.status == 0);
  // The same seed, the same output (all but the timings).
  auto without_timings = [](const std::string& out) {
    json j = json::parse(out);
    for (const char* key : {"prefill_seconds", "decode_seconds", "tokens_per_sec"}) j.erase(key);
    return j;
  };
  CHECK(without_timings(g1.out) == without_timings(g2.out));
  const json j1 = json::parse(g1.out), j3 = json::parse(g3.out);
  CHECK(j1.at("tokens").size() == 12);
  CHECK(j1.at("prompt_tokens").get<std::vector<int>>() == tok.encode("ROMEO:"));
  CHECK(j1.at("tokens") != j3.at("tokens"));
  Result streamed = gen("7", false);
  CHECK(streamed.out == "ROMEO:" + tok.decode(j1.at("tokens").get<std::vector<int>>()) + "\n");

  // Exact resume: a run stopped by its time budget after its first step, resumed, ends with the
  // same losses and weights as the uninterrupted run above.
  r = train_into("stopped", {"--time-budget", "0.000001"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(contains(r.err, "time budget reached"));
  CHECK(gpt2::read_metrics_csv(dir / "stopped" / "metrics.csv").size() == 1);
  r = run({"train", "--resume", d + "/stopped", "--time-budget", "1e6", "--no-progress"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto resumed = gpt2::read_metrics_csv(dir / "stopped" / "metrics.csv");
  REQUIRE(resumed.size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(resumed[i].train_loss == rows[i].train_loss);
    CHECK((std::isnan(rows[i].val_loss) ? std::isnan(resumed[i].val_loss)
                                        : resumed[i].val_loss == rows[i].val_loss));
  }
  CHECK(gpt2::read_file(dir / "stopped" / "model" / "model.safetensors") ==
        gpt2::read_file(dir / "run" / "model" / "model.safetensors"));

  // A time budget without --steps: the first steps of the warmup are timed (20, or fewer if they
  // take a quarter of the budget), then the schedule is sized to the budget. The run is the same
  // as one given that many --steps from the start. How many steps fit depends on the machine, so
  // the checks hold for any number of them (and the runs are bounded by their budgets).
  const std::vector<std::string> small = {
      "train", "--data",   d + "/data", "--n-layer",       "1",  "--n-head",
      "2",     "--n-embd", "16",        "--context",       "32", "--batch-size",
      "4",     "--warmup", "20",        "--eval-interval", "0",  "--no-progress"};
  std::vector<std::string> budget_args = small;
  budget_args.insert(budget_args.end(), {"--time-budget", "1", "--out", d + "/budget", "--json"});
  r = run(budget_args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const json b = json::parse(r.out);
  REQUIRE(b.at("steps").is_number_integer());  // a planned schedule, never the provisional one
  const int planned = b.at("steps").get<int>();
  const int completed = b.at("completed_steps").get<int>();
  CHECK(completed <= planned);
  CHECK(planned < 1000000);
  if (completed < planned) CHECK(b.at("stopped_by") == "time budget");
  CHECK((contains(r.err, "time budget 1.0s: a step takes") || contains(r.err, "ran out while the first")));
  CHECK(contains(gpt2::read_file(dir / "budget" / "run.json"), "\"" + std::to_string(planned) + "\""));
  std::vector<std::string> fixed_args = small;
  fixed_args.insert(fixed_args.end(),
                    {"--steps", std::to_string(planned), "--time-budget", "1", "--out", d + "/fixed"});
  r = run(fixed_args);
  REQUIRE(r.status == 0);
  const auto planned_rows = gpt2::read_metrics_csv(dir / "budget" / "metrics.csv");
  const auto fixed_rows = gpt2::read_metrics_csv(dir / "fixed" / "metrics.csv");
  REQUIRE(planned_rows.size() == static_cast<size_t>(completed));
  REQUIRE(!fixed_rows.empty());
  for (size_t i = 0; i < std::min(planned_rows.size(), fixed_rows.size()); ++i) {
    INFO("step " << i + 1);
    CHECK(planned_rows[i].train_loss == fixed_rows[i].train_loss);
    CHECK(planned_rows[i].lr == fixed_rows[i].lr);
  }

  // Fine-tuning from the saved model keeps its shape and tokenizer.
  r = run({"train", "--data", d + "/data", "--init", d + "/run/model", "--batch-size", "4", "--steps", "2",
           "--eval-interval", "0", "--no-progress", "--out", d + "/finetune"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(gpt2::read_file(dir / "finetune" / "model" / "config.json") ==
        gpt2::read_file(dir / "run" / "model" / "config.json"));
  fs::remove_all(dir);
}

// ----- help and errors ------------------------------------------------------------------------------------

TEST_CASE("gpt2 prepare/train/generate/eval --help", "[program]") {
  for (const char* cmd : {"prepare", "train", "generate", "eval"}) {
    Result r = run({cmd, "--help"});
    INFO(cmd);
    CHECK(r.status == 0);
    CHECK(contains(r.out, std::string("usage: gpt2 ") + cmd));
  }
  CHECK(contains(run({"--help"}).out, "generate"));
}

TEST_CASE("bad flags, missing files and invalid values: a clear message and exit status 1", "[program]") {
  const fs::path dir = temp_dir("errors");
  const std::string d = dir.string();
  gpt2::write_file_atomic(dir / "text.txt",
                          "To be, or not to be, that is the question:\nWhether 'tis nobler\n");
  gpt2::write_file_atomic(dir / "one.txt", "a");
  const std::string tiny = kTinyModel;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      // --device
      {{"generate", "--model", tiny, "--prompt", "x", "--device", "tpu"},
       "--device: expected 'cpu' or 'cuda', got 'tpu'"},
      {{"eval", "--model", tiny, "--input", d + "/text.txt", "--device", "cuda", "--plain-kernels"},
       "the plain loops run on the CPU only"},
#ifndef GPT2_HAVE_CUDA
      {{"generate", "--model", tiny, "--prompt", "x", "--device", "cuda"},
       "--device cuda: this gpt2 was built without the CUDA backend"},
#endif
      // prepare
      {{"prepare", "--out", d + "/p"}, "missing required option '--input FILE'"},
      {{"prepare", "--input", d + "/missing.txt", "--out", d + "/p"}, "missing.txt"},
      {{"prepare", "--input", d + "/text.txt", "--out", d + "/p", "--val-fraction", "0.7"},
       "option '--val-fraction' must be between 0 and 0.5"},
      {{"prepare", "--input", d + "/text.txt", "--out", d + "/p", "--val-fraction", "ten"},
       "option '--val-fraction' expects a number, got 'ten'"},
      {{"prepare", "--input", d + "/text.txt", "--out", d + "/p", "--tokenizer", d + "/none"}, "/none"},
      {{"prepare", "--input", d + "/text.txt", "--out", d + "/p", "--frobnicate"},
       "unknown option '--frobnicate'"},
      // train
      {{"train", "--out", d + "/r"}, "give the data as --data DIR"},
      {{"train", "--data", d + "/nodata", "--out", d + "/r"},
       "--data: directory '" + d + "/nodata' does not exist"},
      {{"train", "--data", d, "--out", d + "/r"}, "has no train.bin"},
      {{"train", "--train", d + "/missing.bin", "--out", d + "/r"},
       "--train: file '" + d + "/missing.bin' does not exist"},
      {{"train", "--train", d + "/text.txt", "--out", d + "/r"}, "text.txt"},  // not a token file
      {{"train", "--resume", d + "/norun"}, "--resume: run directory '" + d + "/norun' does not exist"},
      {{"train", "--resume", d + "/text.txt"}, "--resume: '" + d + "/text.txt' is a file, not a directory"},
      {{"train", "--data", d + "/text.txt", "--out", d + "/r"},
       "--data: '" + d + "/text.txt' is a file, not a directory"},
      {{"train", "--init", d + "/text.txt", "--train", d + "/text.txt", "--out", d + "/r"},
       "--init: '" + d + "/text.txt' is a file, not a model directory"},
      {{"train", "--init", d + "/nomodel", "--train", d + "/text.txt", "--out", d + "/r"},
       "--init: model directory '" + d + "/nomodel' does not exist"},
      {{"train", "--out", d + "/r", "--steps", "0"}, "option '--steps' must be between 1 and"},
      {{"train", "--resume", d}, "is not a run directory of 'gpt2 train' (it has no run.json)"},
      {{"train", "--init", tiny, "--n-layer", "3", "--train", d + "/text.txt", "--out", d + "/r"},
       "--n-layer cannot be combined with --init"},
      {{"train", "--out", d + "/r", "--lr", "fast"}, "option '--lr' expects a number, got 'fast'"},
      {{"train", "--out", d + "/r", "--steps", "-5"}, "option '--steps' must be between 1 and"},
      {{"train", "--config", "gpt5", "--train", d + "/text.txt", "--out", d + "/r"}, "gpt5"},
      {{"train", "--out", d + "/r", "--batch-size"}, "option '--batch-size' needs a value"},
      // generate
      {{"generate", "--prompt", "hi"}, "missing required option '--model DIR'"},
      {{"generate", "--model", d + "/nomodel", "--prompt", "hi"},
       "--model: model directory '" + d + "/nomodel' does not exist"},
      {{"generate", "--model", d + "/text.txt", "--prompt", "hi"},
       "--model: '" + d + "/text.txt' is a file, not a model directory"},
      {{"generate", "--model", "no-such-model", "--prompt", "hi"},
       "'no-such-model' is neither a directory nor a downloaded model"},
      {{"generate", "--model", d, "--prompt", "hi"}, "has no tokenizer files"},
      {{"generate", "--model", tiny, "--temperature", "-1"}, "option '--temperature' must be between 0 and"},
      {{"generate", "--model", tiny, "--top-p", "1.5"}, "option '--top-p' must be between 0 and 1"},
      {{"generate", "--model", tiny, "--top-p", "0"}, "'--top-p' must be in (0, 1]"},
      {{"generate", "--model", tiny, "--top-k", "-3"}, "option '--top-k' must be between 0 and"},
      {{"generate", "--model", tiny, "--max-new-tokens", "lots"},
       "option '--max-new-tokens' expects an integer"},
      {{"generate", "--model", tiny, "--prompt", std::string(40, 'x')},
       "the prompt is 40 tokens long but the model's context is 32"},
      {{"generate", "--model", tiny, "--prompt-file", d + "/missing.txt"}, "missing.txt"},
      {{"generate", "--model", tiny, "--prompt", "a", "--prompt-file", d + "/text.txt"}, "not both"},
      // eval
      {{"eval", "--model", tiny}, "missing required option '--input FILE'"},
      {{"eval", "--model", tiny, "--input", d + "/missing.txt"}, "missing.txt"},
      {{"eval", "--model", tiny, "--input", d + "/one.txt"}, "at least 2 are needed"},
      {{"eval", "--model", tiny, "--input", d + "/text.txt", "--stride", "0"},
       "option '--stride' must be between 1 and 32"},
      {{"eval", "--model", tiny, "--input", d + "/text.txt", "--context", "64"},
       "option '--context' must be between 1 and 32"},
      {{"eval", "--model", tiny, "--input", d + "/text.txt", "--context", "8", "--stride", "9"},
       "option '--stride' must be between 1 and 8"},
  };
  for (const Case& c : cases) {
    Result r = run(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    INFO(joined << "\n-> " << r.err);
    CHECK(r.status == 1);
    CHECK(contains(r.err, c.message));
    CHECK(r.out.empty());
  }

  // A run directory is never overwritten by a fresh run, and a resumed run keeps its options.
  Result r = run({"prepare", "--input", d + "/text.txt", "--tokenizer", tiny, "--out", d + "/data",
                  "--val-fraction", "0"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const std::vector<std::string> train = {
      "train", "--data",   d + "/data", "--n-layer",     "1",     "--n-head",
      "1",     "--n-embd", "8",         "--context",     "8",     "--batch-size",
      "1",     "--steps",  "1",         "--no-progress", "--out", d + "/run"};
  REQUIRE(run(train).status == 0);
  r = run(train);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "already holds a run; continue it with --resume"));
  CHECK(contains(r.err, "give --force to replace it"));
  r = run({"train", "--resume", d + "/run", "--lr", "0.1"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "option '--lr' cannot be changed when resuming"));
  r = run({"train", "--data", d + "/data", "--n-embd", "30", "--n-head", "4", "--out", d + "/run2"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "--n-embd 30 is not divisible by --n-head 4"));
  r = run({"train", "--data", d + "/data", "--n-layer", "1", "--n-head", "1", "--n-embd", "8", "--context",
           "8", "--seq-len", "9", "--out", d + "/run3"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "option '--seq-len' must be between 1 and 8"));
  fs::remove_all(dir);
}

// ----- what the commands write: never over an input, never into a directory that holds other things ----

TEST_CASE("gpt2 prepare never overwrites its input, nor a non-empty directory without --force", "[program]") {
  const fs::path dir = temp_dir("prepare_force");
  const std::string d = dir.string();
  const std::string text = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt").substr(0, 4000);
  gpt2::create_directories(dir / "W");
  gpt2::write_file_atomic(dir / "W" / "val.txt", text);
  // The input lies in the output directory under the name of one of the outputs.
  Result r = run({"prepare", "--input", d + "/W/val.txt", "--tokenizer", kTinyModel, "--out", d + "/W"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "gpt2 prepare: --out: '" + d + "/W' is not empty"));
  CHECK(contains(r.err, "--force"));
  r = run({"prepare", "--input", d + "/W/val.txt", "--tokenizer", kTinyModel, "--out", d + "/W", "--force"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "would overwrite --input '" + d + "/W/val.txt'"));
  CHECK(gpt2::read_file(dir / "W" / "val.txt") == text);  // untouched
  // The tokenizer given is the one prepare would replace.
  r = run({"prepare", "--input", d + "/W/val.txt", "--tokenizer", kTinyModel, "--out", d + "/D"});
  REQUIRE(r.status == 0);
  r = run({"prepare", "--input", d + "/W/val.txt", "--tokenizer", d + "/D/tokenizer", "--out", d + "/D",
           "--force"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "would overwrite --tokenizer '" + d + "/D/tokenizer"));
  CHECK(gpt2::has_tokenizer_files(dir / "D" / "tokenizer"));
  // An output directory that is a file.
  r = run({"prepare", "--input", d + "/W/val.txt", "--tokenizer", kTinyModel, "--out", d + "/W/val.txt"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "is a file, not a directory"));
  fs::remove_all(dir);
}

TEST_CASE("gpt2 prepare and tokenizer train accept the same vocabulary sizes", "[program]") {
  const fs::path dir = temp_dir("vocab_256");
  const std::string d = dir.string();
  gpt2::write_file_atomic(dir / "text.txt",
                          "To be, or not to be, that is the question.\nWhether 'tis nobler\n");
  Result r =
      run({"tokenizer", "train", "--input", d + "/text.txt", "--vocab-size", "256", "--out", d + "/tok"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  r = run({"prepare", "--input", d + "/text.txt", "--vocab-size", "256", "--out", d + "/data", "--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(json::parse(r.out).at("vocab_size") == 256);  // the bytes alone, as tokenizer train makes
  for (const char* cmd : {"prepare", "tokenizer"}) {
    std::vector<std::string> args = {cmd,   "--input", d + "/text.txt", "--vocab-size",
                                     "255", "--out",   d + "/x"};
    if (std::string(cmd) == "tokenizer") args.insert(args.begin() + 1, "train");
    r = run(args);
    INFO(cmd);
    CHECK(contains(r.err, "option '--vocab-size' must be between 256 and"));
  }
  fs::remove_all(dir);
}

TEST_CASE("gpt2 prepare --force into a prepared directory leaves one tokenizer and no stale files",
          "[program]") {
  const fs::path dir = temp_dir("prepare_stale");
  const std::string d = dir.string();
  const std::string text = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt").substr(0, 20000);
  gpt2::write_file_atomic(dir / "text.txt", text);
  // First with a tokenizer under Hugging Face's names and a validation part...
  Result r = run({"prepare", "--input", d + "/text.txt", "--tokenizer", kTinyModel, "--out", d + "/D"});
  REQUIRE(r.status == 0);
  REQUIRE(fs::exists(dir / "D" / "val.bin"));
  // ... then, into the same directory, a trained tokenizer (OpenAI's names) and no validation part.
  r = run({"prepare", "--input", d + "/text.txt", "--vocab-size", "300", "--val-fraction", "0", "--out",
           d + "/D", "--force"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(!fs::exists(dir / "D" / "val.bin"));  // not left over from the first run
  CHECK(!fs::exists(dir / "D" / "val.txt"));
  CHECK(!fs::exists(dir / "D" / "tokenizer" / "vocab.json"));
  CHECK(!fs::exists(dir / "D" / "tokenizer" / "merges.txt"));
  // The model trained on it carries the tokenizer the token files were made with.
  r = run({"train", "--data",        d + "/D", "--n-layer",    "1", "--n-head", "1", "--n-embd",
           "8",     "--context",     "16",     "--batch-size", "2", "--steps",  "1", "--eval-interval",
           "0",     "--no-progress", "--out",  d + "/R"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const gpt2::Tokenizer data_tok = gpt2::Tokenizer::load(dir / "D" / "tokenizer");
  const gpt2::Tokenizer model_tok = gpt2::Tokenizer::load(dir / "R" / "model");
  CHECK(data_tok.vocab_size() == 300);
  CHECK(model_tok.merges() == data_tok.merges());
  CHECK(model_tok.encode(text.substr(0, 500)) == data_tok.encode(text.substr(0, 500)));
  fs::remove_all(dir);
}

// ----- runs that fail, runs that are resumed, budgets shorter than a step ---------------------------------

namespace {
// Token files of a learnable stream over the tiny model's byte-level vocabulary (257 tokens).
void write_tokens(const fs::path& path, size_t n, int32_t max_id) {
  std::vector<int> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(static_cast<int>((i * 7 + i / 5) % 97 + 32));
  if (max_id >= 0) ids[n / 2] = max_id;
  gpt2::write_tokens(path, ids);
}

std::vector<std::string> tiny_train(const std::string& train, const std::string& out) {
  return {"train",    "--train",
          train,      "--tokenizer",
          kTinyModel, "--n-layer",
          "1",        "--n-head",
          "1",        "--n-embd",
          "8",        "--context",
          "16",       "--batch-size",
          "2",        "--eval-interval",
          "0",        "--warmup",
          "2",        "--no-progress",
          "--out",    out};
}
}  // namespace

TEST_CASE("gpt2 train: a run that fails before it starts leaves nothing that blocks its retry", "[program]") {
  const fs::path dir = temp_dir("failed_run");
  const std::string d = dir.string();
  write_tokens(dir / "good.bin", 2000, -1);
  write_tokens(dir / "bad.bin", 2000, 400);  // an id outside the 257-token vocabulary
  write_tokens(dir / "short.bin", 10, -1);   // fewer tokens than one batch of 2 x 17
  std::vector<std::string> args = tiny_train(d + "/bad.bin", d + "/R");
  args.insert(args.end(), {"--steps", "2"});
  Result r = run(args);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "outside the model's vocabulary of 257"));
  CHECK(!fs::exists(dir / "R"));  // no run.json, no metrics.csv
  args = tiny_train(d + "/good.bin", d + "/R");
  args.insert(args.end(), {"--steps", "2", "--val", d + "/short.bin"});  // an impossible validation batch
  r = run(args);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "short.bin"));
  CHECK(!fs::exists(dir / "R"));
  // The corrected run goes into the same directory, and can be resumed.
  args = tiny_train(d + "/good.bin", d + "/R");
  args.insert(args.end(), {"--steps", "2"});
  r = run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  r = run({"train", "--resume", d + "/R", "--steps", "3", "--no-progress"});
  INFO(r.err);
  CHECK(r.status == 0);
  // An existing empty directory may take a run; one that holds other files only with --force,
  // and then the files are left alone.
  gpt2::create_directories(dir / "empty");
  args = tiny_train(d + "/good.bin", d + "/empty");
  args.insert(args.end(), {"--steps", "1"});
  CHECK(run(args).status == 0);
  gpt2::create_directories(dir / "notes");
  gpt2::write_file_atomic(dir / "notes" / "notes.txt", "mine");
  args = tiny_train(d + "/good.bin", d + "/notes");
  args.insert(args.end(), {"--steps", "1"});
  r = run(args);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "is not empty; choose another --out, or give --force"));
  args.push_back("--force");
  CHECK(run(args).status == 0);
  CHECK(gpt2::read_file(dir / "notes" / "notes.txt") == "mine");
  // --force replaces a run, but never one of the new run's inputs.
  r = run({"train", "--train", d + "/good.bin", "--init", d + "/R/model", "--batch-size", "2", "--steps", "1",
           "--eval-interval", "0", "--no-progress", "--out", d + "/R", "--force"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "would overwrite --init '" + d + "/R/model'"));
  CHECK(fs::exists(dir / "R" / "model" / "model.safetensors"));
  fs::remove_all(dir);
}

TEST_CASE("gpt2 train --resume: a new --steps is kept for later resumes; the summary counts whole tokens",
          "[program]") {
  const fs::path dir = temp_dir("resume_steps");
  const std::string d = dir.string();
  write_tokens(dir / "good.bin", 2000, -1);
  std::vector<std::string> args = tiny_train(d + "/good.bin", d + "/R");
  args.insert(args.end(), {"--steps", "3"});
  REQUIRE(run(args).status == 0);
  Result r = run({"train", "--resume", d + "/R", "--steps", "5", "--no-progress"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(contains(r.err, "5/5 steps"));
  r = run({"train", "--resume", d + "/R", "--no-progress", "--json"});  // not back to 3 steps
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(contains(r.err, "5/5 steps"));
  const json summary = json::parse(r.out);
  CHECK(summary.at("steps") == 5);
  CHECK(summary.at("tokens_trained").is_number_integer());
  CHECK(summary.at("tokens_trained") == 5 * 2 * 16);
  // Fewer steps than the run has done is an error, not "5/4 steps".
  r = run({"train", "--resume", d + "/R", "--steps", "4", "--no-progress"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "has already completed 5 steps, more than the 4"));
  fs::remove_all(dir);
}

TEST_CASE("gpt2 train --dropout: in run.json and the saved config.json; a resumed run draws the same masks",
          "[program][dropout]") {
  const fs::path dir = temp_dir("dropout");
  const std::string d = dir.string();
  write_tokens(dir / "good.bin", 2000, -1);
  std::vector<std::string> args = tiny_train(d + "/good.bin", d + "/D");
  args.insert(args.end(),
              {"--steps", "4", "--dropout", "0.1", "--resid-pdrop", "0.2", "--checkpoint-interval", "2"});
  Result r = run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(contains(r.err, "dropout embd 0.1 attn 0.1 resid 0.2"));
  const json config = json::parse(gpt2::read_file(dir / "D" / "model" / "config.json"));
  CHECK(config.at("embd_pdrop") == 0.1);
  CHECK(config.at("attn_pdrop") == 0.1);
  CHECK(config.at("resid_pdrop") == 0.2);
  CHECK(contains(gpt2::read_file(dir / "D" / "run.json"), "\"--resid-pdrop\",\n    \"0.2\""));
  const auto rows = gpt2::read_metrics_csv(dir / "D" / "metrics.csv");
  // Stopped after 2 steps and resumed: the same losses, bit for bit.
  std::vector<std::string> first = tiny_train(d + "/good.bin", d + "/E");
  first.insert(first.end(), {"--steps", "2", "--dropout", "0.1", "--resid-pdrop", "0.2"});
  REQUIRE(run(first).status == 0);
  r = run({"train", "--resume", d + "/E", "--steps", "4", "--no-progress"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto resumed = gpt2::read_metrics_csv(dir / "E" / "metrics.csv");
  REQUIRE(resumed.size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) CHECK(resumed[i].train_loss == rows[i].train_loss);
  // Without dropout the losses differ; a probability of 1 is refused.
  std::vector<std::string> none = tiny_train(d + "/good.bin", d + "/F");
  none.insert(none.end(), {"--steps", "4"});
  REQUIRE(run(none).status == 0);
  CHECK(gpt2::read_metrics_csv(dir / "F" / "metrics.csv")[3].train_loss != rows[3].train_loss);
  std::vector<std::string> bad = tiny_train(d + "/good.bin", d + "/G");
  bad.insert(bad.end(), {"--dropout", "1"});
  r = run(bad);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "option '--dropout' must be between 0 and 0.99, got 1"));
  fs::remove_all(dir);
}

TEST_CASE("gpt2 train: a time budget shorter than a step, or than a long gradient accumulation",
          "[program]") {
  const fs::path dir = temp_dir("short_budget");
  const std::string d = dir.string();
  write_tokens(dir / "good.bin", 20000, -1);
  // 2^20 micro-batches per step would take many minutes; the budget stops the step part-way.
  std::vector<std::string> args = tiny_train(d + "/good.bin", d + "/accum");
  args.insert(args.end(), {"--steps", "5", "--grad-accum", "1048576", "--time-budget", "0.5", "--json"});
  Result r = run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  json summary = json::parse(r.out);
  CHECK(summary.at("completed_steps") == 0);
  CHECK(summary.at("stopped_by") == "time budget");
  CHECK(contains(r.err, "train loss - (last 20 steps)"));
  // A budget too short to time the warmup: a schedule of the steps that fit (here fewer than the
  // 100,000 warmup steps, which the run says), never the provisional million steps.
  args = tiny_train(d + "/good.bin", d + "/short");
  args.insert(args.end(), {"--warmup", "100000", "--time-budget", "0.05", "--json"});
  r = run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  summary = json::parse(r.out);
  REQUIRE(summary.at("steps").is_number_integer());
  const int steps = summary.at("steps").get<int>();
  CHECK(steps >= summary.at("completed_steps").get<int>());
  CHECK(steps < 100000);
  CHECK((contains(r.err, "not more than the 100000 warmup steps") ||
         contains(r.err, "ran out while the first")));
  CHECK(contains(gpt2::read_file(dir / "short" / "run.json"), "\"" + std::to_string(steps) + "\""));
  fs::remove_all(dir);
}
