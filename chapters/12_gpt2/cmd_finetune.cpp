// gpt2 finetune: chapter 10's fine-tuning of a model directory into a classifier or an instruction
// follower, with chapter 06's train() (checkpoints, resume, Ctrl-C) on chapter 10's batches.
//
// cmd_finetune() at the bottom reads as its steps: the run's options (the command line, or a
// resumed run's run.json), the base model, the data as batches, what trains, the training, and
// the directories a run leaves: RUN_DIR/model (a classifier, or the language model with LoRA
// merged into it) and, for LoRA, RUN_DIR/adapter in PEFT's layout. Under mpirun it runs as one
// rank of a data-parallel job, as `gpt2 train` does (ranks.h): rank 0 writes the run.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/trainer.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/10_finetuning/finetune_batches.h"
#include "chapters/10_finetuning/finetune_model.h"
#include "chapters/10_finetuning/jsonl.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/ranks.h"
#include "chapters/12_gpt2/train_options.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/progress.h"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCmd = "gpt2 finetune";
// What a run writes into its directory (and --force replaces).
const std::vector<std::string> kRunFiles = {"run.json",    "metrics.csv", "loss.svg", "summary.json",
                                            "checkpoints", "model",       "adapter"};
// The options that name files (stored absolute in run.json) and those a resume may give again.
const std::vector<std::string> kPathOptions = {"--model", "--train", "--val", "--out"};
// --grad-accum only with another number of ranks (the checkpoint holds the micro-batches of a
// step over all ranks); the data-parallel options change no result and are not stored.
const std::vector<std::string> kResumable = {"--resume",     "--steps",       "--time-budget",
                                             "--grad-accum", "--no-progress", "--json",
                                             "--zero1",      "--bucket-mb",   "--rank-timeout"};

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

ArgParser make_finetune_parser() {
  ArgParser p(
      kCmd,
      "Fine-tunes a model directory (chapter 10). --task classify trains a classifier on labelled\n"
      "texts (JSONL lines {\"text\": ..., \"label\": ...}): a head on the last token's hidden state,\n"
      "cross-entropy over the classes. --task sft trains an instruction follower on Alpaca-style\n"
      "examples (JSONL lines {\"instruction\", \"input\", \"output\"}) in chapter 10's chat template,\n"
      "the loss on the answers only. What trains: everything (default), --train-last N blocks,\n"
      "--head-only (classify), or LoRA adapters (--lora-rank R). The run directory gets\n"
      "checkpoints (resume with --resume RUN_DIR, also after Ctrl-C), metrics.csv, loss.svg,\n"
      "summary.json, model/ (the classifier, or the model with LoRA merged) and, with LoRA,\n"
      "adapter/ (PEFT's layout).\n"
      "Under 'mpirun -np N' the N ranks fine-tune one model (chapter 11): each takes its share of\n"
      "every batch of N x K micro-batches, and the run is the same, bit for bit, as one process with\n"
      "--grad-accum N*K; rank 0 writes RUN_DIR. For example:\n"
      "  mpirun -np 2 gpt2 finetune --task sft --model gpt2 --train alpaca.jsonl --out runs/sft");
  p.option("--task", "TASK", "classify or sft");
  p.option("--model", "DIR", "the model to fine-tune (a model directory, or a downloaded model's name)");
  p.option("--train", "FILE", "training examples (JSONL)");
  p.option("--val", "FILE", "validation examples (JSONL), for the validation loss");
  p.option("--out", "RUN_DIR", "where the run goes (new or empty, or with --force)");
  p.option("--resume", "RUN_DIR", "continue an interrupted run (its options come from its run.json)");
  p.flag("--force", "write the run into a non-empty --out, replacing an earlier run there");
  p.option("--train-last", "N", "train only the last N blocks and ln_f (and the head)");
  p.flag("--head-only", "classify: train only the classification head");
  p.option("--lora-rank", "R", "train LoRA adapters of rank R instead of the model's weights");
  p.option("--lora-alpha", "A", "LoRA's scale is A / R (default: 2 R)");
  p.option("--lora-targets", "LIST",
           "comma-separated layers to adapt, as PEFT names them: c_attn, c_proj, c_fc, attn.c_proj, "
           "mlp.c_proj, all-linear",
           "c_attn");
  p.option("--layout", "HOW", "sft: pad (one example per row) or pack (as many as fit)", "pad");
  p.option("--seq-len", "T", "tokens per row (default: the longest example, at most the model's context)");
  p.option("--batch-size", "B", "rows per micro-batch", "8");
  p.option("--grad-accum", "K", "micro-batches per optimizer step", "1");
  p.option("--steps", "N", "optimizer steps", "100");
  p.option("--time-budget", "SECONDS", "stop (resumably) before a step would end past this time");
  add_optimizer_options(p, {.lr = "1e-4",
                            .warmup = "10",
                            .weight_decay = "0",
                            .eval_interval = "25",
                            .eval_steps = "10",
                            .checkpoint_interval = "50"});
  p.option("--seed", "N", "seed of the order of the examples, the head's and LoRA's initialisation, dropout",
           "1337");
  p.flag("--no-shuffle", "visit the examples in file order");
  add_dropout_options(p);
  add_backend_options(p);
  add_data_parallel_options(p);
  p.flag("--no-progress", "a log line per evaluation instead of a progress bar");
  p.flag("--json", "print summary.json's content on stdout at the end");
  return p;
}

// ----- 1. the run's options ----------------------------------------------------------------------

struct RunOptions {
  ArgParser parser = make_finetune_parser();
  bool resume = false;
  fs::path out;
  std::vector<std::string> stored;  // what run.json keeps
};

RunOptions read_run_options(const ArgParser& cli, std::span<const std::string> args) {
  RunOptions run;
  run.resume = cli.given("--resume");
  if (!run.resume) {
    GPT2_CHECK(cli.given("--out"), kCmd, ": missing required option '--out RUN_DIR' (or --resume RUN_DIR)");
    for (const char* name : {"--task", "--model", "--train"})
      GPT2_CHECK(cli.given(name), kCmd, ": missing required option '", name, "'");
    run.parser = cli;
    run.out = cli.get("--out");
    // run.json keeps every option as given, paths made absolute, without the report-only flags
    // and how the ranks share the work.
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--no-progress" || a == "--json" || a == "--force" || contains(kDataParallelFlags, a))
        continue;
      if (contains(kDataParallelOptions, a)) {
        ++i;  // and its value
        continue;
      }
      const bool path = contains(kPathOptions, a);
      run.stored.push_back(a);
      if (path && i + 1 < args.size()) {  // (a bare model name such as gpt2 stays a name)
        const std::string& value = args[++i];
        run.stored.push_back(fs::exists(value) || a != "--model" ? fs::absolute(value).string() : value);
      }
    }
    return run;
  }
  for (const std::string& a : args) {
    GPT2_CHECK(a.rfind("--", 0) != 0 || contains(kResumable, a), kCmd, ": ", a,
               " cannot be changed when resuming (only --steps, --time-budget, --grad-accum (for another "
               "number of ranks), --no-progress, --json, --zero1, --bucket-mb, --rank-timeout)");
  }
  run.out = cli.get("--resume");
  const fs::path run_file = run.out / "run.json";
  GPT2_CHECK(fs::is_directory(run.out), kCmd, ": --resume: run directory '", run.out.string(),
             "' does not exist");
  GPT2_CHECK(fs::exists(run_file), kCmd, ": --resume: '", run.out.string(),
             "' is not a run directory of 'gpt2 finetune' (it has no run.json)");
  run.stored = parse_run_file(read_file(run_file), run_file.string());
  for (const char* name : {"--steps", "--time-budget", "--grad-accum"})  // kept for later resumes
    if (cli.given(name)) run.stored = with_option(run.stored, name, cli.get(name));
  std::vector<std::string> all = run.stored;
  for (const std::string& flag : kDataParallelFlags)
    if (cli.given(flag)) all.push_back(flag);
  for (const std::string& option : kDataParallelOptions)
    if (cli.given(option)) all.insert(all.end(), {option, cli.get(option)});
  for (const char* flag : {"--no-progress", "--json"})
    if (cli.given(flag)) all.push_back(flag);
  std::ostringstream help;
  try {
    run.parser.parse(all, help);
  } catch (const Error& e) {
    fail(run_file.string(), ": ", e.what());
  }
  return run;
}

// ----- 2. the data as batches ---------------------------------------------------------------------

struct Data {
  std::unique_ptr<BatchSource> train, val;
  std::vector<std::string> labels;  // classify
  int T = 0;
  int64_t train_examples = 0, val_examples = 0;
  std::string note;  // what was cut or skipped
};

int seq_len(const ArgParser& p, int longest, int context) {
  if (p.given("--seq-len")) return static_cast<int>(p.get_int("--seq-len", 1, context));
  return std::max(1, std::min(longest, context));
}

Data classification_data(const ArgParser& p, const Tokenizer& tok, const TrainConfig& tc, int context,
                         int pad_id) {
  Data d;
  std::vector<LabeledText> train = read_labeled_texts(p.get("--train"));
  d.labels = collect_labels(train);
  GPT2_CHECK(d.labels.size() >= 2, kCmd, ": --train: '", p.get("--train"), "' has one label only ('",
             d.labels[0], "'): a classifier needs at least two");
  std::vector<LabeledText> val;
  if (p.given("--val")) val = read_labeled_texts(p.get("--val"));
  int longest = 1;
  for (const auto* set : {&train, &val})
    for (const LabeledText& e : *set)
      longest = std::max(longest, static_cast<int>(tok.encode(e.text).size()));
  d.T = seq_len(p, longest, context);
  auto encode = [&](const std::vector<LabeledText>& examples, const std::string& file, int& cut) {
    const std::vector<int> ids = label_ids(examples, d.labels, file);
    std::vector<EncodedText> texts;
    for (size_t i = 0; i < examples.size(); ++i) {
      texts.push_back(encode_labeled_text(tok, examples[i].text, ids[i], d.T));
      cut += texts.back().truncated;
    }
    return texts;
  };
  int cut = 0;
  std::vector<EncodedText> train_texts = encode(train, p.get("--train"), cut);
  d.train_examples = static_cast<int64_t>(train_texts.size());
  d.train = std::make_unique<ClassificationBatches>(std::move(train_texts), tc.batch_size, d.T, tc.shuffle,
                                                    tc.seed, pad_id, "train");
  if (!val.empty()) {
    std::vector<EncodedText> val_texts = encode(val, p.get("--val"), cut);
    d.val_examples = static_cast<int64_t>(val_texts.size());
    d.val = std::make_unique<ClassificationBatches>(std::move(val_texts), tc.batch_size, d.T, false, tc.seed,
                                                    pad_id, "val");
  }
  if (cut > 0) d.note = cat(cut, " text(s) longer than ", d.T, " tokens keep their first ", d.T);
  return d;
}

Data sft_data(const ArgParser& p, const Tokenizer& tok, const TrainConfig& tc, int context, int pad_id) {
  Data d;
  const std::string layout_name = p.get("--layout");
  GPT2_CHECK(layout_name == "pad" || layout_name == "pack", kCmd, ": --layout: expected pad or pack, got '",
             layout_name, "'");
  const SftLayout layout = layout_name == "pad" ? SftLayout::pad : SftLayout::pack;
  auto encode = [&](const std::string& file) {
    std::vector<SftExample> out;
    for (const InstructionExample& e : read_instruction_data(file)) out.push_back(encode_sft_example(tok, e));
    return out;
  };
  std::vector<SftExample> train = encode(p.get("--train"));
  std::vector<SftExample> val;
  if (p.given("--val")) val = encode(p.get("--val"));
  int longest = 1;
  for (const auto* set : {&train, &val})
    for (const SftExample& e : *set) longest = std::max(longest, static_cast<int>(e.tokens.size()));
  d.T = seq_len(p, longest, context);
  int skipped = drop_long_examples(train, d.T);
  GPT2_CHECK(!train.empty(), kCmd, ": --train: every example of '", p.get("--train"), "' is longer than ",
             d.T, " tokens");
  d.train_examples = static_cast<int64_t>(train.size());
  d.train = std::make_unique<SftBatches>(std::move(train), tc.batch_size, d.T, layout, tc.shuffle, tc.seed,
                                         pad_id, "train");
  if (!val.empty()) {
    skipped += drop_long_examples(val, d.T);
    d.val_examples = static_cast<int64_t>(val.size());
    if (!val.empty())
      d.val = std::make_unique<SftBatches>(std::move(val), tc.batch_size, d.T, layout, false, tc.seed, pad_id,
                                           "val");
  }
  if (skipped > 0) d.note = cat(skipped, " example(s) longer than ", d.T, " tokens skipped");
  return d;
}

// ----- 3. what trains -----------------------------------------------------------------------------

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

FinetuneSetup finetune_setup(const ArgParser& p, const GPT2Config& config, uint64_t seed) {
  FinetuneSetup s;
  const std::string task = p.get("--task");
  GPT2_CHECK(task == "classify" || task == "sft", kCmd, ": --task: expected classify or sft, got '", task,
             "'");
  s.task = task == "classify" ? FinetuneTask::classify : FinetuneTask::sft;
  s.init_seed = seed;
  const int choices = p.given("--train-last") + p.given("--head-only") + p.given("--lora-rank");
  GPT2_CHECK(choices <= 1, kCmd, ": give at most one of --train-last, --head-only, --lora-rank");
  GPT2_CHECK(!p.given("--lora-alpha") || p.given("--lora-rank"), kCmd,
             ": --lora-alpha goes with --lora-rank");
  if (p.given("--train-last")) {
    s.trains = FinetuneTrains::last_blocks;
    s.last_blocks = static_cast<int>(p.get_int("--train-last", 1, config.n_layer));
  } else if (p.given("--head-only")) {
    GPT2_CHECK(s.task == FinetuneTask::classify, kCmd,
               ": --head-only is for --task classify (a language model has no head of its own to train)");
    s.trains = FinetuneTrains::head;
  } else if (p.given("--lora-rank")) {
    s.trains = FinetuneTrains::lora;
    s.lora.r = static_cast<int>(p.get_int("--lora-rank", 1, 1 << 20));
    s.lora.lora_alpha = p.given("--lora-alpha") ? p.get_double("--lora-alpha", 1e-6, 1e6) : 2.0 * s.lora.r;
    s.lora.target_modules = split_list(p.get("--lora-targets"));
    if (s.lora.target_modules == std::vector<std::string>{"all-linear"})  // PEFT's name for all four
      s.lora.target_modules = all_linear_modules();
    GPT2_CHECK(!s.lora.target_modules.empty(), kCmd, ": --lora-targets: no layer named");
    lora_targets(s.lora, config, "--lora-rank/--lora-targets");  // the rank and the names, checked now
  }
  return s;
}

// ----- 4. the run directory -----------------------------------------------------------------------

void check_run_dir(const ArgParser& p, const fs::path& out, const fs::path& model_dir) {
  if (directory_has_entries(out, "gpt2 finetune: --out")) {
    GPT2_CHECK(
        p.given("--force"), kCmd, ": '", out.string(), "' ",
        fs::exists(out / "run.json")
            ? cat("already holds a run; continue it with --resume ", out.string(),
                  ", give --force to replace it, or choose another --out")
            : std::string("is not empty; choose another --out, or give --force to write the run there"));
  }
  for (const std::string& name : kRunFiles) {
    check_not_input(out / name, model_dir, kCmd, "--model");
    check_not_input(out / name, p.get("--train"), kCmd, "--train");
    if (p.given("--val")) check_not_input(out / name, p.get("--val"), kCmd, "--val");
  }
}

// What every rank of an mpirun job must agree on with rank 0 (besides the binary and the initial
// trainable weights, which the ranks add): the run's options, how the ranks share the work, the
// examples, and the base model's files (its frozen weights are in no checkpoint, and its
// tokenizer encodes the examples).
std::vector<Fingerprint> rank_checks(const RunOptions& run, const ArgParser& p, const Backend& backend,
                                     const fs::path& model_dir) {
  std::vector<Fingerprint> checks = run_option_checks(run.stored, p, backend);
  checks.push_back(file_fingerprint("training examples", p.get("--train")));
  if (p.given("--val")) checks.push_back(file_fingerprint("validation examples", p.get("--val")));
  for (const char* name :
       {"config.json", "model.safetensors", "vocab.json", "merges.txt", "encoder.json", "vocab.bpe"}) {
    if (fs::exists(model_dir / name))
      checks.push_back(file_fingerprint(cat("base model's ", name), model_dir / name));
  }
  return checks;
}

// "1.2345", or "-" for a loss that was not measured.
std::string loss_text(double loss) {
  if (!std::isfinite(loss)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", loss);
  return buf;
}

long max_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;  // kilobytes on Linux
}

int cmd_finetune(std::span<const std::string> args, CommandIO io) {
  ArgParser cli = make_finetune_parser();
  if (!cli.parse(args, io.out)) return 0;
  RunOptions run = read_run_options(cli, args);  // 1.
  const ArgParser& p = run.parser;

  TrainConfig tc;
  tc.out_dir = run.out;
  read_optimizer_options(p, tc);
  tc.steps = static_cast<int>(p.get_int("--steps", 1, INT32_MAX));
  tc.resume = run.resume;
  tc.time_budget_seconds = p.given("--time-budget") ? p.get_double("--time-budget", 1e-9, 1e9) : 0.0;

  // The base model and its tokenizer (the classifier's or the chat model's, saved with it).
  const fs::path model_dir = resolve_model_dir(p.get("--model"));
  GPT2_CHECK(has_tokenizer_files(model_dir), kCmd, ": --model: '", model_dir.string(),
             "' has no tokenizer files (vocab.json + merges.txt)");
  BackendOptions backend_choice = backend_options(p);
  TrainingRanks ranks(io, p, backend_choice);  // one process, or mpirun's ranks (may pick the GPU)
  if (!run.resume && ranks.rank() == 0) check_run_dir(p, run.out, model_dir);  // (rank 0 writes)
  const Tokenizer tok = Tokenizer::load(model_dir);
  std::unique_ptr<Backend> backend = make_backend(backend_choice);
  GPT2 model = GPT2::load(model_dir, *backend);
  model.set_dropout(dropout_options(p, model.config().dropout));
  const GPT2Config config = model.config();
  const int pad_id = tok.eot_id() >= 0 ? tok.eot_id() : 0;

  FinetuneSetup setup = finetune_setup(p, config, tc.seed);  // 3. (checked before the data is read)
  Data data = setup.task == FinetuneTask::classify
                  ? classification_data(p, tok, tc, config.n_positions, pad_id)
                  : sft_data(p, tok, tc, config.n_positions, pad_id);  // 2.
  setup.labels = data.labels;
  setup.pad_token_id = pad_id;
  FinetuneModel ft(model, setup);
  tc.train_batches = data.train.get();
  tc.val_batches = data.val.get();
  tc.seq_len = data.T;
  tc.title = cat("gpt2 finetune: ", describe(setup), ", B=", tc.batch_size, " T=", tc.seq_len);
  validate(tc);
  tc.data_parallel = ranks.hook(rank_checks(run, p, *backend, model_dir));

  io.err << (run.resume ? "resuming" : "fine-tuning") << " " << model_dir.string() << " ("
         << to_string(config) << ") for " << p.get("--task") << ": " << describe(setup) << ", "
         << ft.num_trainable() << " trainable parameters (the model has " << model.num_parameters() << "); "
         << data.train_examples << " training examples"
         << (data.val ? cat(", ", data.val_examples, " validation") : "")
         << (setup.task == FinetuneTask::classify ? cat(", ", data.labels.size(), " classes") : "")
         << "; B=" << tc.batch_size << " T=" << tc.seq_len << " K=" << tc.grad_accum_steps << ", " << tc.steps
         << " steps, lr " << tc.lr << ", " << max_threads() << " thread(s)\n";
  if (!data.note.empty()) io.err << "note: " << data.note << "\n";
  // The model reports final gradients during backward (for the buckets) only without attached
  // layers: with a head or LoRA, whose gradients are final only at the end (GPT2's grad-ready
  // callback).
  const bool overlaps = model.attached_params().empty();
  if (const std::string line = ranks.describe(static_cast<size_t>(ft.num_trainable()), overlaps);
      !line.empty())
    io.err << line << "\n";

  // 4. run.json is written once train() has checked everything and begins (on rank 0).
  tc.on_start = [&] {
    if (!run.resume)
      for (const std::string& name : kRunFiles) gpt2::remove_all(run.out / name);
    gpt2::create_directories(run.out);
    write_file_atomic(run.out / "run.json", run_file_text(run.stored, config));
  };
  const bool log_lines = p.given("--no-progress") || !isatty(fileno(stderr));
  const StepCallback on_step = [&](const StepMetrics& m) {
    if (!log_lines || !(std::isfinite(m.val_loss) || m.step == 1)) return;
    char line[160];
    std::snprintf(line, sizeof line, "step %5d/%d | loss %.4f | val %s | %s\n", m.step, tc.steps,
                  m.train_loss, loss_text(m.val_loss).c_str(), format_duration(m.elapsed_seconds).c_str());
    io.err << line;
    io.err.flush();
  };
  const double cpu_start = process_cpu_seconds();
  const TrainResult result = train(ft, tc, on_step);  // 5.
  const TrainingRanks::Report report = ranks.report(cpu_start);
  if (ranks.rank() != 0) return 0;  // rank 0 writes the model and the summary

  // 6. The directories of the run and its summary.
  const fs::path out_model = run.out / "model", out_adapter = run.out / "adapter";
  ft.write_model_dir(out_model, model_dir);
  if (setup.trains == FinetuneTrains::lora) ft.write_adapter_dir(out_adapter);
  const std::vector<StepMetrics> rows = read_metrics_csv(run.out / "metrics.csv");
  auto number_or_null = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); };
  double val_loss = NAN;
  for (const StepMetrics& m : rows)
    if (std::isfinite(m.val_loss)) val_loss = m.val_loss;
  const double seconds = rows.empty() ? 0.0 : rows.back().elapsed_seconds;
  nlohmann::json summary = {
      {"task", p.get("--task")},
      {"trains", describe(setup)},
      {"trainable_parameters", ft.num_trainable()},
      {"parameters", model.num_parameters()},
      {"labels", data.labels},
      {"completed_steps", result.final_step},
      {"steps", tc.steps},
      {"interrupted", result.interrupted},
      {"train_loss", rows.empty() ? nlohmann::json() : number_or_null(rows.back().train_loss)},
      {"val_loss", number_or_null(val_loss)},
      {"training_seconds", seconds},
      {"max_rss_mb", max_rss_mb()},
      {"model_dir", out_model.string()},
      {"adapter_dir",
       setup.trains == FinetuneTrains::lora ? nlohmann::json(out_adapter.string()) : nlohmann::json()},
  };
  summary.update(report.summary());  // the ranks, their CPU time and their waits in collectives
  write_file_atomic(run.out / "summary.json", summary.dump(2) + "\n");
  io.err << result.final_step << "/" << tc.steps << " steps in " << format_duration(seconds)
         << (result.budget_reached ? " (time budget reached)"
             : result.interrupted  ? " (interrupted)"
                                   : "")
         << "; val loss " << loss_text(val_loss) << "; saved " << out_model.string()
         << (setup.trains == FinetuneTrains::lora ? cat(" and ", out_adapter.string()) : "") << "\n";
  if (result.interrupted)
    io.err << "continue with: " << mpirun_prefix(report.ranks()) << "gpt2 finetune --resume "
           << run.out.string() << "\n";
  if (p.given("--json")) io.out << summary.dump() << "\n";
  return 0;
}

}  // namespace

void register_finetune_commands(std::vector<Command>& commands) {
  commands.push_back({{"finetune"},
                      "fine-tune a model into a classifier or an instruction follower (also under mpirun)",
                      cmd_finetune,
                      /*runs_on_ranks=*/true});
}

}  // namespace gpt2
