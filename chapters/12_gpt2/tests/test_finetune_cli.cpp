// gpt2 finetune, classify and chat end to end on a tiny model (12_chat_model: 2 blocks, 32
// channels, 128 positions, one token per byte), `--adapter` on eval and generate against a PEFT
// adapter written by tests/reference/12_peft_cli.py, exact resume, and the errors of bad flags and
// files.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chapters/06_training/metrics.h"
#include "chapters/08_cpu_parallel/weight_format_backend.h"
#include "chapters/12_gpt2/adapter_option.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/tests/cli_harness.h"
#include "common/file_io.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using gpt2_test::contains;
using gpt2_test::gpt2_run;
using gpt2_test::Result;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) {
  return gpt2::fixture_dir() + "/" + name;
}

// Texts of two classes a tiny model learns in a few steps: "aaaa aaaa" is A, "bbbb bbbb ..." is B.
void write_classes(const fs::path& path, int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    const bool a = i % 2 == 1;
    std::string t;
    for (int k = 0; k <= i % 4; ++k) t += a ? "aaaa " : "bbbb ";
    text += json{{"text", t}, {"label", a ? "A" : "B"}}.dump() + "\n";
  }
  gpt2::write_file_atomic(path, text);
}

// Instructions "Say cat" answered "cat".
void write_instructions(const fs::path& path, int n) {
  const char* words[] = {"cat", "dog", "sun"};
  std::string text;
  for (int i = 0; i < n; ++i)
    text += json{{"instruction", std::string("Say ") + words[i % 3]}, {"input", ""}, {"output", words[i % 3]}}
                .dump() +
            "\n";
  gpt2::write_file_atomic(path, text);
}

json summary(const fs::path& run) {
  return json::parse(gpt2::read_file(run / "summary.json"));
}

// The usual options of a short run of `task` from 12_chat_model into `out`.
std::vector<std::string> finetune_args(const std::string& task, const fs::path& train, const fs::path& out,
                                       std::vector<std::string> more) {
  std::vector<std::string> a = {
      "finetune", "--task",        task,       "--model",    fixture("12_chat_model"),
      "--train",  train.string(),  "--out",    out.string(), "--batch-size",
      "4",        "--no-progress", "--warmup", "2"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

}  // namespace

TEST_CASE("gpt2 finetune --task classify, then gpt2 classify: every way of training", "[cli][finetune]") {
  const fs::path dir = gpt2::test_temp_dir("12_finetune_classify");
  write_classes(dir / "train.jsonl", 40);
  write_classes(dir / "val.jsonl", 8);
  const std::string val = (dir / "val.jsonl").string();
  // What trains, and how many numbers that is for this model (C = 32, 2 blocks, 2 classes).
  const int C = 32, head = 2 * C;
  const int block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C);
  struct Way {
    std::string name;
    std::vector<std::string> flags;
    int64_t trainable;
  };
  const std::vector<Way> ways = {
      {"head", {"--head-only"}, head},
      {"last", {"--train-last", "1"}, block + 2 * C + head},
      {"lora", {"--lora-rank", "4", "--lora-targets", "c_attn"}, 2 * 4 * (C + 3 * C) + head},
      // PEFT's all-linear: the block's four Conv1D layers, r (in + out) numbers each.
      {"lora_all_linear",
       {"--lora-rank", "4", "--lora-targets", "all-linear"},
       2 * 4 * ((C + 3 * C) + (C + C) + (C + 4 * C) + (4 * C + C)) + head},
      {"everything", {}, -1},
  };
  for (const Way& w : ways) {
    INFO(w.name);
    const fs::path run = dir / w.name;
    std::vector<std::string> flags = {"--val", val, "--steps", "20", "--lr", "3e-3", "--eval-interval", "10"};
    flags.insert(flags.end(), w.flags.begin(), w.flags.end());
    Result r = gpt2_run(finetune_args("classify", dir / "train.jsonl", run, flags));
    REQUIRE(r.status == 0);
    const json s = summary(run);
    CHECK(s["completed_steps"] == 20);
    CHECK(s["labels"] == json{"A", "B"});
    if (w.trainable > 0) CHECK(s["trainable_parameters"] == w.trainable);
    if (w.name == "everything")
      CHECK(s["trainable_parameters"].get<int64_t>() == s["parameters"].get<int64_t>() + head);
    // The classifier directory classifies: a label and probabilities that sum to 1.
    r = gpt2_run({"classify", "--model", (run / "model").string(), "--json"}, "aaaa aaaa aaaa");
    REQUIRE(r.status == 0);
    const json c = json::parse(r.out);
    const double pa = c["probabilities"]["A"], pb = c["probabilities"]["B"];
    CHECK(std::abs(pa + pb - 1.0) < 1e-5);
    CHECK(c["label"] == (pa > pb ? "A" : "B"));
    r = gpt2_run({"classify", "--model", (run / "model").string(), "--eval", val, "--json"});
    REQUIRE(r.status == 0);
    const json e = json::parse(r.out);
    CHECK(e["examples"] == 8);
    if (w.name != "head") CHECK(e["accuracy"].get<double>() >= 0.75);  // the baseline is 0.5
    if (w.name == "lora") {
      // The base model with the adapter (unmerged) classifies as the merged classifier does.
      r = gpt2_run({"classify", "--model", fixture("12_chat_model"), "--adapter", (run / "adapter").string(),
                    "--json"},
                   "aaaa aaaa aaaa");
      REQUIRE(r.status == 0);
      const json u = json::parse(r.out);
      CHECK(std::abs(u["probabilities"]["A"].get<double>() - pa) < 1e-5);
      // A classifier's adapter is no language model's.
      r = gpt2_run(
          {"generate", "--model", fixture("12_chat_model"), "--adapter", (run / "adapter").string()});
      CHECK(r.status == 1);
      CHECK(contains(r.err,
                     "is a classifier's adapter (task_type SEQ_CLS); use it with 'gpt2 classify --adapter'"));
    }
  }
  // Plain output: the label, then every class with its probability.
  const Result r = gpt2_run({"classify", "--model", (dir / "everything" / "model").string()}, "bbbb bbbb");
  CHECK(r.status == 0);
  CHECK((r.out.rfind("A\n", 0) == 0 || r.out.rfind("B\n", 0) == 0));
  CHECK(contains(r.out, "  A\n"));
  fs::remove_all(dir);
}

TEST_CASE("gpt2 finetune --task sft with LoRA, then gpt2 chat driven by stdin", "[cli][finetune][chat]") {
  const fs::path dir = gpt2::test_temp_dir("12_finetune_sft");
  write_instructions(dir / "sft.jsonl", 30);
  const fs::path run = dir / "run";
  Result r = gpt2_run(finetune_args("sft", dir / "sft.jsonl", run,
                                    {"--steps", "40", "--lr", "1e-2", "--lora-rank", "4", "--lora-targets",
                                     "c_attn,c_fc", "--eval-interval", "0"}));
  REQUIRE(r.status == 0);
  CHECK(contains(r.err, "40/40 steps"));
  CHECK(fs::exists(run / "model" / "model.safetensors"));  // the merged model
  CHECK(fs::exists(run / "adapter" / "adapter_model.safetensors"));
  const json s = summary(run);
  CHECK(s["trainable_parameters"] == 2 * (4 * (32 + 96) + 4 * (32 + 128)));
  const std::string model = (run / "model").string();

  // The first answer of a chat is the greedy continuation of the template's prompt.
  r = gpt2_run({"chat", "--model", model, "--greedy", "--max-new-tokens", "20"}, "Say cat\n");
  REQUIRE(r.status == 0);
  Result g = gpt2_run({"generate", "--model", model, "--greedy", "--max-new-tokens", "20", "--prompt",
                       "### Instruction:\nSay cat\n\n### Response:\n", "--json"});
  REQUIRE(g.status == 0);
  const std::string expected = json::parse(g.out)["text"];
  CHECK(r.out == expected.substr(0, expected.find("### Instruction:")) + "\n");
  // The merged model and the base with the adapter answer alike.
  Result a = gpt2_run({"chat", "--model", fixture("12_chat_model"), "--adapter", (run / "adapter").string(),
                       "--greedy", "--max-new-tokens", "20"},
                      "Say cat\n");
  CHECK(a.out == r.out);

  // The second turn reads only its own tokens: its prompt in the template (40 bytes for "Say dog")
  // and what of the first answer the cache does not hold yet (its <|endoftext|>, and its last
  // token if it stopped at the token limit).
  r = gpt2_run({"chat", "--model", model, "--greedy", "--max-new-tokens", "20", "--stats"},
               "Say cat\nSay dog\n");
  REQUIRE(r.status == 0);
  CHECK(contains(r.err, "[read 40 new tokens after 0 cached;"));
  const size_t second = r.err.find("[read ", r.err.find("[read ") + 1);
  REQUIRE(second != std::string::npos);
  const int fresh = std::stoi(r.err.substr(second + 6));
  CHECK((fresh == 41 || fresh == 42));

  // Several turns, /reset, and more turns than the 128-token context holds: one line per answer,
  // the oldest turns dropped with a message.
  r = gpt2_run({"chat", "--model", model, "--greedy", "--max-new-tokens", "8"},
               "Say dog\nSay sun\n/reset\nSay cat\nSay dog\nSay sun\n\n/quit\nSay cat\n");
  REQUIRE(r.status == 0);
  int lines = 0;
  for (char ch : r.out) lines += ch == '\n';
  CHECK(lines == 5);  // the empty line is skipped, nothing after /quit
  CHECK(contains(r.err, "[conversation cleared]"));
  CHECK(contains(r.err, "is full: dropped the oldest"));
  // A message longer than the context is refused, and the chat goes on.
  r = gpt2_run({"chat", "--model", model, "--greedy", "--max-new-tokens", "4"},
               std::string(200, 'x') + "\nSay cat\n");
  CHECK(r.status == 0);
  CHECK(contains(r.err, "the message was not sent"));
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);

  // Exact match on held-out instructions.
  r = gpt2_run({"chat", "--model", model, "--eval", (dir / "sft.jsonl").string(), "--json"});
  REQUIRE(r.status == 0);
  const json e = json::parse(r.out);
  CHECK(e["examples"] == 30);
  CHECK(e["exact"].get<int>() >= 0);
  fs::remove_all(dir);
}

TEST_CASE("gpt2 finetune: a run stopped part-way and resumed is the uninterrupted run, bit for bit",
          "[cli][finetune][resume]") {
  const fs::path dir = gpt2::test_temp_dir("12_finetune_resume");
  write_classes(dir / "train.jsonl", 24);
  for (const std::vector<std::string>& way :
       {std::vector<std::string>{"--lora-rank", "2"}, std::vector<std::string>{}}) {
    const std::vector<std::string> flags = {"--steps", "6", "--checkpoint-interval", "2", "--lr", "3e-3"};
    std::vector<std::string> f = flags;
    f.insert(f.end(), way.begin(), way.end());
    fs::remove_all(dir / "straight");
    fs::remove_all(dir / "stopped");
    REQUIRE(gpt2_run(finetune_args("classify", dir / "train.jsonl", dir / "straight", f)).status == 0);
    // A time budget shorter than a step stops the run after its first step, as Ctrl-C would.
    f.insert(f.end(), {"--time-budget", "1e-6"});
    Result r = gpt2_run(finetune_args("classify", dir / "train.jsonl", dir / "stopped", f));
    REQUIRE(r.status == 0);
    CHECK(contains(r.err, "1/6 steps"));
    CHECK(contains(r.err, "continue with: gpt2 finetune --resume"));
    r = gpt2_run(
        {"finetune", "--resume", (dir / "stopped").string(), "--time-budget", "1e6", "--no-progress"});
    REQUIRE(r.status == 0);
    const auto a = gpt2::read_metrics_csv(dir / "straight" / "metrics.csv");
    const auto b = gpt2::read_metrics_csv(dir / "stopped" / "metrics.csv");
    REQUIRE(a.size() == 6);
    REQUIRE(b.size() == 6);
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].train_loss == b[i].train_loss);
    CHECK(gpt2::read_file(dir / "straight" / "model" / "model.safetensors") ==
          gpt2::read_file(dir / "stopped" / "model" / "model.safetensors"));
    // A resumed run keeps its options: changing one is refused.
    r = gpt2_run({"finetune", "--resume", (dir / "stopped").string(), "--lr", "1"});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "--lr cannot be changed when resuming"));
  }
  fs::remove_all(dir);
}

TEST_CASE("--adapter on eval and generate: a PEFT adapter gives the PyTorch script's numbers",
          "[cli][adapter]") {
  // tests/reference/12_peft_cli.py: the adapter, and the adapted model's loss and greedy tokens.
  const auto ref = gpt2::SafetensorsFile::open(fixture("12_peft_cli.safetensors"));
  const fs::path dir = gpt2::test_temp_dir("12_adapter");
  gpt2::write_file_atomic(dir / "text.txt", "To be, or not to be, that is the question.");
  const std::vector<std::string> eval = {
      "eval", "--model", fixture("12_chat_model"), "--input", (dir / "text.txt").string(), "--json"};
  std::vector<std::string> adapted = eval;
  adapted.insert(adapted.end(), {"--adapter", fixture("12_peft_adapter")});
  Result r = gpt2_run(adapted);
  REQUIRE(r.status == 0);
  const double nats = json::parse(r.out)["total_nats"];
  const double expected = ref.get_vector("eval_nats")[0];
  CHECK(std::abs(nats - expected) <= 1e-5 * expected);
  r = gpt2_run(eval);  // without the adapter: the base model's
  CHECK(std::abs(json::parse(r.out)["total_nats"].get<double>() - ref.get_vector("eval_nats_base")[0]) <=
        1e-5 * expected);
  r = gpt2_run({"generate", "--model", fixture("12_chat_model"), "--adapter", fixture("12_peft_adapter"),
                "--prompt", "ROMEO:", "--greedy", "--max-new-tokens", "24", "--json"});
  REQUIRE(r.status == 0);
  const std::vector<int64_t> greedy = ref.get_int("greedy_ids");
  CHECK(json::parse(r.out)["tokens"].get<std::vector<int64_t>>() == greedy);
  fs::remove_all(dir);
}

// generate, chat and serve hold a tiled copy of each Conv1D weight for the decode steps, keyed by
// the weight's address (WeightFormatBackend in f32). A LoRA adapter's factors move the model's
// buffer; the copies must follow it, or the decode steps fall back to the slower layout.
TEST_CASE("--adapter: generation's float32 decode copies follow the moved weights", "[cli][adapter]") {
  gpt2::BackendOptions options;
  options.decode_copy = true;
  gpt2::LoadedModel m = gpt2::load_model(fixture("12_chat_model"), options);
  const auto* backend = dynamic_cast<const gpt2::WeightFormatBackend*>(&m.model->backend());
  REQUIRE(backend != nullptr);
  const int conv1d = 4 * m.model->config().n_layer;
  auto c_attn = [&] {  // where the first block's attention weight is now
    for (const gpt2::ParamSpec& s : m.model->layout().specs()) {
      if (s.name == "h.0.attn.c_attn.weight") return m.model->params().data() + s.offset;
    }
    FAIL("no h.0.attn.c_attn.weight");
    return static_cast<float*>(nullptr);
  };
  const float* before = c_attn();
  CHECK(backend->f32_weight(before) != nullptr);
  CHECK(backend->converted_count() == static_cast<size_t>(conv1d));
  const auto lora = gpt2::apply_adapter(fixture("12_peft_adapter"), m);
  const float* after = c_attn();
  REQUIRE(after != before);
  CHECK(backend->f32_weight(after) != nullptr);
  CHECK(backend->converted_count() == static_cast<size_t>(conv1d));
}

TEST_CASE("gpt2 finetune, classify, chat, --adapter: one clear error for each bad flag or file",
          "[cli][finetune]") {
  const fs::path dir = gpt2::test_temp_dir("12_finetune_errors");
  write_classes(dir / "train.jsonl", 8);
  write_instructions(dir / "sft.jsonl", 6);
  gpt2::write_file_atomic(dir / "bad.jsonl", "{\"text\": \"a\", \"label\": \"A\"}\n{\"text\": \"b\"}\n");
  gpt2::write_file_atomic(dir / "unknown.jsonl", "{\"text\": \"a\", \"label\": \"C\"}\n");
  // JSON is UTF-8: a Latin-1 byte (0xE9, "é") in a text field is refused, naming the line.
  gpt2::write_file_atomic(dir / "latin1.jsonl",
                          "{\"text\": \"a\", \"label\": \"A\"}\n{\"text\": \"caf\xe9\", \"label\": \"B\"}\n");
  gpt2::write_file_atomic(dir / "latin1_sft.jsonl",
                          "{\"instruction\": \"Say caf\xe9\", \"output\": \"cat\"}\n");
  const std::string train = (dir / "train.jsonl").string(), out = (dir / "run").string();
  auto classify_run = [&](std::vector<std::string> flags) {
    return gpt2_run(finetune_args("classify", train, out, std::move(flags)));
  };
  struct Case {
    Result r;
    std::string message;
  };
  const std::vector<Case> cases = {
      {gpt2_run(finetune_args("summarize", train, out, {})),
       "--task: expected classify or sft, got 'summarize'"},
      {classify_run({"--lora-rank", "0"}), "option '--lora-rank' must be"},
      {classify_run({"--lora-rank", "64"}), "--lora-rank/--lora-targets"},
      {classify_run({"--lora-rank", "4", "--lora-targets", "q_proj"}), "q_proj"},
      {classify_run({"--train-last", "3"}), "option '--train-last' must be"},
      {classify_run({"--head-only", "--lora-rank", "2"}),
       "at most one of --train-last, --head-only, --lora-rank"},
      {gpt2_run(finetune_args("sft", dir / "sft.jsonl", out, {"--head-only"})),
       "--head-only is for --task classify"},
      {gpt2_run(finetune_args("classify", dir / "bad.jsonl", out, {})), "bad.jsonl:2: missing field 'label'"},
      {gpt2_run(finetune_args("classify", dir / "latin1.jsonl", out, {})),
       "latin1.jsonl:2: invalid UTF-8 at byte 13 of the line"},
      {gpt2_run(finetune_args("sft", dir / "latin1_sft.jsonl", out, {})),
       "latin1_sft.jsonl:1: invalid UTF-8 at byte 24 of the line"},
      {gpt2_run({"chat", "--model", fixture("12_chat_model"), "--eval", (dir / "latin1_sft.jsonl").string()}),
       "latin1_sft.jsonl:1: invalid UTF-8 at byte 24 of the line"},
      {classify_run({"--val", (dir / "unknown.jsonl").string()}), "unknown.jsonl"},
      {gpt2_run(finetune_args("classify", dir / "none.jsonl", out, {})), "none.jsonl"},
      {gpt2_run(finetune_args("sft", dir / "sft.jsonl", out, {"--layout", "zip"})),
       "--layout: expected pad or pack, got 'zip'"},
      {gpt2_run({"finetune", "--task", "sft", "--train", train, "--out", out}),
       "missing required option '--model'"},
      {gpt2_run({"finetune", "--resume", (dir / "norun").string()}), "does not exist"},
      {gpt2_run({"classify", "--model", fixture("12_chat_model")}, "x"), "is not a classifier"},
      {gpt2_run({"classify", "--model", fixture("12_chat_model"), "--adapter", fixture("12_peft_adapter")},
                "x"),
       "has no classification head"},
      {gpt2_run({"generate", "--model", fixture("12_chat_model"), "--adapter", fixture("10_peft_adapter")}),
       "is the adapter for another base model?"},
      {gpt2_run({"eval", "--model", fixture("12_chat_model"), "--input", train, "--adapter",
                 (dir / "x").string()}),
       "--adapter: '" + (dir / "x").string() + "' is not a directory"},
      {gpt2_run({"chat", "--model", fixture("12_chat_model"), "--adapter", dir.string()}),
       "has no adapter_config.json"},
  };
  for (const Case& c : cases) {
    INFO(c.r.err);
    CHECK(c.r.status == 1);
    CHECK(contains(c.r.err, c.message));
    CHECK(std::count(c.r.err.begin(), c.r.err.end(), '\n') == 1);  // one line
  }
  CHECK_FALSE(fs::exists(dir / "run" / "run.json"));  // no failed run left a record
  // A run directory that holds a run is not overwritten.
  REQUIRE(classify_run({"--steps", "1"}).status == 0);
  Result r = classify_run({"--steps", "1"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "already holds a run; continue it with --resume"));
  // The classifier it made refuses the same file with the same one line.
  r = gpt2_run(
      {"classify", "--model", (dir / "run" / "model").string(), "--eval", (dir / "latin1.jsonl").string()});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "latin1.jsonl:2: invalid UTF-8 at byte 13 of the line"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  fs::remove_all(dir);
}

TEST_CASE("gpt2 classify and gpt2 chat read stdin as bytes, invalid UTF-8 too, as gpt2 generate does",
          "[cli][finetune][chat]") {
  // The tokenizer is byte-level: any bytes are a text, and `gpt2 generate --prompt-file` and
  // `gpt2 eval --input` read them as they are. Only JSON (the JSONL files) must be UTF-8.
  const fs::path dir = gpt2::test_temp_dir("12_finetune_stdin_bytes");
  const std::string message =
      "Say caf\xe9 \xff\xfe \xc3";  // Latin-1, two bytes never in UTF-8, a cut character
  // The first answer of a chat is the greedy continuation of its prompt in the template: what
  // gpt2 generate writes after the same bytes (up to a new instruction, where chat stops).
  Result r = gpt2_run({"chat", "--model", fixture("12_chat_model"), "--greedy", "--max-new-tokens", "20"},
                      message + "\n");
  REQUIRE(r.status == 0);
  const std::string prompt = "### Instruction:\n" + message + "\n\n### Response:\n";
  gpt2::write_file_atomic(dir / "prompt.txt", prompt);
  const Result g = gpt2_run({"generate", "--model", fixture("12_chat_model"), "--greedy", "--max-new-tokens",
                             "20", "--prompt-file", (dir / "prompt.txt").string()});
  REQUIRE(g.status == 0);
  REQUIRE(g.out.rfind(prompt, 0) == 0);
  const std::string text = g.out.substr(prompt.size(), g.out.size() - prompt.size() - 1);
  CHECK(r.out == text.substr(0, text.find("### Instruction:")) + "\n");

  // A classifier classifies the bytes; --json stays valid JSON (it holds only the labels).
  write_classes(dir / "train.jsonl", 8);
  REQUIRE(gpt2_run(finetune_args("classify", dir / "train.jsonl", dir / "run", {"--steps", "1"})).status ==
          0);
  r = gpt2_run({"classify", "--model", (dir / "run" / "model").string(), "--json"}, message);
  REQUIRE(r.status == 0);
  const json c = json::parse(r.out);
  CHECK(std::abs(c["probabilities"]["A"].get<double>() + c["probabilities"]["B"].get<double>() - 1.0) < 1e-5);
  // The line break `echo` and text files end with is not part of the text (the head reads the
  // last token: it would read the line break's).
  const std::vector<std::string> classify = {"classify", "--model", (dir / "run" / "model").string(),
                                             "--json"};
  const Result plain = gpt2_run(classify, "bbbb bbbb");
  REQUIRE(plain.status == 0);
  CHECK(gpt2_run(classify, "bbbb bbbb\n").out == plain.out);
  CHECK(gpt2_run(classify, "bbbb bbbb\r\n").out == plain.out);
  CHECK(gpt2_run(classify, "bbbb bbbb\n\n").out != plain.out);  // only one line break is dropped
  r = gpt2_run(classify, "\n");
  CHECK(r.status == 1);
  CHECK(contains(r.err, "gpt2 classify: stdin is empty"));
  fs::remove_all(dir);
}
