// gpt2 train: train a GPT-2 from scratch or fine-tune one, with chapter 06's loop and chapter 08's
// kernels; resume an interrupted run; stop after a time budget.
//
// cmd_train() at the bottom reads as the list of its steps: the run's options (a fresh run's, or
// a resumed run's from its run.json), chapter 06's TrainConfig, the data and the tokenizer, the
// run directory, the model, the training itself (with the schedule sized to a time budget), and
// the model directory and summary at the end.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/data_loader.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/stop_signal.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/ranks.h"
#include "chapters/12_gpt2/step_budget.h"
#include "chapters/12_gpt2/train_options.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/progress.h"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

// The model-shape options, which --init takes from the model directory instead.
const std::vector<std::string> kShapeOptions = {"--config", "--n-layer", "--n-head",
                                                "--n-embd", "--context", "--vocab-size"};
// What a run writes into its directory (and --force replaces).
const std::vector<std::string> kRunFiles = {"run.json",     "metrics.csv", "loss.svg",
                                            "summary.json", "checkpoints", "model"};

// "4.1234", or "-" for a loss that was not measured.
std::string loss_text(double loss) {
  if (!std::isfinite(loss)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", loss);
  return buf;
}

// One line of progress for logs (when there is no progress bar). steps = 0: not known yet.
void log_line(std::ostream& err, const StepMetrics& m, int steps) {
  char line[200];
  const std::string of = steps > 0 ? cat("/", steps) : "";
  std::snprintf(line, sizeof line, "step %5d%s | loss %.4f | val %s | lr %.2e | %.0f tok/s | %s\n", m.step,
                of.c_str(), m.train_loss, loss_text(m.val_loss).c_str(), m.lr, m.tokens_per_sec,
                format_duration(m.elapsed_seconds).c_str());
  err << line;
  err.flush();
}

// ", dropout 0.1" (or ", dropout embd 0.1 attn 0 resid 0.1"), or nothing without dropout.
std::string dropout_text(const DropoutConfig& d) {
  if (!d.any()) return "";
  if (d.embd_pdrop == d.attn_pdrop && d.attn_pdrop == d.resid_pdrop) return cat(", dropout ", d.embd_pdrop);
  return cat(", dropout embd ", d.embd_pdrop, " attn ", d.attn_pdrop, " resid ", d.resid_pdrop);
}

// A directory option must name a directory: "--data: 'x' is a file, not a directory".
void require_directory(const fs::path& dir, const std::string& flag, const char* what = "directory") {
  GPT2_CHECK(fs::exists(dir), "gpt2 train: ", flag, ": ", what, " '", dir.string(), "' does not exist");
  GPT2_CHECK(fs::is_directory(dir), "gpt2 train: ", flag, ": '", dir.string(),
             "' is a file, not a directory");
}

// ----- 1. the run's options ---------------------------------------------------------------------

struct RunOptions {
  ArgParser parser = make_train_parser();  // the run's options: the command line, or run.json's + overrides
  bool resume = false;
  std::vector<std::string> stored;  // what run.json stores (no --steps while the schedule is being sized)
};

// A fresh run's options are its command line; a resumed run's are those in its run.json, with
// the few overrides kResumeOverrides allows (train_options.h).
RunOptions read_run_options(const ArgParser& cli, std::span<const std::string> args) {
  RunOptions run;
  run.resume = cli.given("--resume");
  if (!run.resume) {
    run.parser = cli;
    run.stored = stored_args(args, cli);
    return run;
  }
  const fs::path run_dir = cli.get("--resume");
  require_directory(run_dir, "--resume", "run directory");
  const fs::path run_file = run_dir / "run.json";
  GPT2_CHECK(fs::exists(run_file), "gpt2 train: --resume: '", run_dir.string(),
             "' is not a run directory of 'gpt2 train' (it has no run.json)");
  run.stored = parse_run_file(read_file(run_file), run_file.string());
  run.parser = resumed_options(run.stored, args, run_file.string());
  for (const char* name : {"--steps", "--time-budget", "--grad-accum"}) {  // kept for later resumes
    if (cli.given(name)) run.stored = with_option(run.stored, name, cli.get(name));
  }
  return run;
}

// ----- 2. chapter 06's TrainConfig ----------------------------------------------------------------

TrainConfig train_config(const ArgParser& p, bool resume) {
  TrainConfig tc;
  GPT2_CHECK(resume || p.given("--out"),
             "gpt2 train: missing required option '--out RUN_DIR' (or --resume RUN_DIR)");
  tc.out_dir = resume ? fs::path(p.get("--resume")) : fs::path(p.get("--out"));
  read_optimizer_options(p, tc);
  tc.resume = resume;
  tc.steps = p.given("--steps") ? static_cast<int>(p.get_int("--steps", 1, INT32_MAX)) : 1000;
  tc.time_budget_seconds = p.given("--time-budget") ? p.get_double("--time-budget", 0.0, 1e9) : 0.0;
  GPT2_CHECK(!p.given("--time-budget") || tc.time_budget_seconds > 0,
             "gpt2 train: option '--time-budget' must be > 0");
  return tc;
}

// ----- 3. the data and the tokenizer --------------------------------------------------------------

struct DataFiles {
  fs::path train, val;               // token files (val may be empty: no validation)
  fs::path tokenizer;                // the tokenizer directory saved with the model
  std::string train_flag, val_flag;  // where they came from, for messages
  std::string tokenizer_flag = "--tokenizer";
};

DataFiles find_data(const ArgParser& p) {
  GPT2_CHECK(p.given("--data") != p.given("--train"),
             "gpt2 train: give the data as --data DIR (from 'gpt2 "
             "prepare') or as --train FILE [--val FILE], exactly one");
  GPT2_CHECK(!(p.given("--data") && p.given("--val")),
             "gpt2 train: --val goes with --train, not with --data");
  DataFiles d;
  if (p.given("--data")) {
    const fs::path data = p.get("--data");
    require_directory(data, "--data");
    d.train = data / "train.bin";
    GPT2_CHECK(fs::exists(d.train), "gpt2 train: --data: '", data.string(),
               "' has no train.bin (make it with 'gpt2 prepare --out ", data.string(), "')");
    if (fs::exists(data / "val.bin")) d.val = data / "val.bin";
    if (has_tokenizer_files(data / "tokenizer")) d.tokenizer = data / "tokenizer";
    d.train_flag = d.val_flag = d.tokenizer_flag = "--data";
  } else {
    d.train = p.get("--train");
    GPT2_CHECK(fs::exists(d.train), "gpt2 train: --train: file '", d.train.string(), "' does not exist");
    if (p.given("--val")) {
      d.val = p.get("--val");
      GPT2_CHECK(fs::exists(d.val), "gpt2 train: --val: file '", d.val.string(), "' does not exist");
    }
    d.train_flag = "--train";
    d.val_flag = "--val";
  }
  if (p.given("--tokenizer")) {
    d.tokenizer = p.get("--tokenizer");
    d.tokenizer_flag = "--tokenizer";
  }
  if (d.tokenizer.empty() && p.given("--init")) {
    d.tokenizer = resolve_model_dir(p.get("--init"), "--init");
    d.tokenizer_flag = "--init";
  }
  if (d.tokenizer.empty()) d.tokenizer = default_tokenizer_dir();
  return d;
}

// ----- 4. the run directory -----------------------------------------------------------------------

// A fresh run goes into a new or empty directory; one that holds a run (or anything else) only
// with --force, which replaces the earlier run's files (replace_run_files(), once the new run has
// started). No input may lie among them.
void check_run_dir(const ArgParser& p, const fs::path& out, const DataFiles& data) {
  if (directory_has_entries(out, "gpt2 train: --out")) {
    const bool is_run = fs::exists(out / "run.json");
    GPT2_CHECK(
        p.given("--force"), "gpt2 train: '", out.string(),
        is_run ? cat("' already holds a run; continue it with --resume ", out.string(),
                     ", give --force to replace it, or choose another --out")
               : std::string("' is not empty; choose another --out, or give --force to write the run there"));
  }
  std::vector<std::pair<fs::path, std::string>> inputs = {{data.train, data.train_flag},
                                                          {data.tokenizer, data.tokenizer_flag}};
  if (!data.val.empty()) inputs.emplace_back(data.val, data.val_flag);
  if (p.given("--init")) inputs.emplace_back(resolve_model_dir(p.get("--init"), "--init"), "--init");
  for (const std::string& name : kRunFiles) {
    for (const auto& [input, flag] : inputs) check_not_input(out / name, input, "gpt2 train", flag);
  }
}

void replace_run_files(const fs::path& out) {
  for (const std::string& name : kRunFiles) gpt2::remove_all(out / name);
}

// A fresh run that failed before its first checkpoint has nothing to resume from: remove what it
// wrote, so that the corrected command can simply be run again.
void forget_unstarted_run(const fs::path& out, bool created_dir) {
  if (latest_checkpoint(out)) return;
  std::error_code ec;
  for (const std::string& name : kRunFiles) fs::remove_all(out / name, ec);
  if (created_dir && fs::is_empty(out, ec)) fs::remove(out, ec);
}

// ----- 5. the model -------------------------------------------------------------------------------

// The shape of a fresh model from the options (see the command's help).
GPT2Config model_shape(const ArgParser& p, int tokenizer_vocab) {
  GPT2Config c = GPT2Config::make(4, 4, 128, 256, tokenizer_vocab);
  if (p.given("--config")) {
    c = GPT2Config::from_name(p.get("--config"));
    c.vocab_size = tokenizer_vocab;
  }
  if (p.given("--n-layer")) c.n_layer = static_cast<int>(p.get_int("--n-layer", 1, kMaxLayers));
  if (p.given("--n-head")) c.n_head = static_cast<int>(p.get_int("--n-head", 1, kMaxEmbd));
  if (p.given("--n-embd")) c.n_embd = static_cast<int>(p.get_int("--n-embd", 1, kMaxEmbd));
  if (p.given("--context")) c.n_positions = static_cast<int>(p.get_int("--context", 1, kMaxPositions));
  if (p.given("--vocab-size")) c.vocab_size = static_cast<int>(p.get_int("--vocab-size", 1, kMaxVocab));
  GPT2_CHECK(c.n_embd % c.n_head == 0, "gpt2 train: --n-embd ", c.n_embd, " is not divisible by --n-head ",
             c.n_head);
  c.validate("gpt2 train");
  return c;
}

// --init MODEL_DIR's weights, or a fresh model of the options' shape with random weights.
std::unique_ptr<GPT2> make_model(const ArgParser& p, Backend& backend, const Tokenizer& tokenizer,
                                 const fs::path& tokenizer_dir) {
  std::unique_ptr<GPT2> model;
  if (p.given("--init")) {
    for (const std::string& name : kShapeOptions)
      GPT2_CHECK(!p.given(name), "gpt2 train: ", name,
                 " cannot be combined with --init (the shape comes from ",
                 "the model directory's config.json)");
    model = std::make_unique<GPT2>(GPT2::load(resolve_model_dir(p.get("--init"), "--init"), backend));
  } else {
    model = std::make_unique<GPT2>(model_shape(p, tokenizer.vocab_size()), backend);
    model->init_random(static_cast<uint64_t>(p.get_int("--init-seed", 0, INT64_MAX)));
  }
  GPT2_CHECK(tokenizer.vocab_size() <= model->config().vocab_size, "gpt2 train: the tokenizer (",
             tokenizer_dir.string(), ") has ", tokenizer.vocab_size(),
             " tokens but the model's vocabulary is only ", model->config().vocab_size);
  // Dropout: the model's own (its config.json's, 0 for a new model) unless the options say.
  model->set_dropout(dropout_options(p, model->config().dropout));
  return model;
}

// What every rank of an mpirun job must agree on with rank 0 (besides the binary and the initial
// weights, which the ranks add): the run's options, how the ranks share the work, the data.
std::vector<Fingerprint> rank_checks(const RunOptions& run, const DataFiles& data, const ArgParser& p,
                                     const Backend& backend) {
  std::vector<Fingerprint> checks = run_option_checks(run.stored, p, backend);
  checks.push_back(file_fingerprint("training data", data.train));
  if (!data.val.empty()) checks.push_back(file_fingerprint("validation data", data.val));
  return checks;
}

// ----- 6. training, with the schedule sized to a time budget -------------------------------------

// The schedule's length while the first steps are timed (its cosine barely moves in them), and
// the fewest steps timed.
constexpr int kProvisionalSteps = 1000000;
constexpr int kMinProbeSteps = 20;

struct Training {
  GPT2& model;
  TrainConfig& tc;
  RunOptions& run;
  const fs::path& tokenizer_dir;
  bool plan_steps;  // size the schedule to the time budget
  bool log_lines;   // a line per evaluation (no progress bar)
  CommandIO io;
};

// Runs chapter 06's train(). With a time budget and no --steps, the schedule is first sized to the
// budget (step_budget.h): the run starts with a provisional, very long schedule, times its first
// steps (the warmup, at least 20; at most a quarter of the budget), plans the number of steps that
// fit, and continues, exactly, from there.
TrainResult run_training(Training t) {
  TrainConfig& tc = t.tc;
  if (t.plan_steps) {
    tc.steps = kProvisionalSteps;
    t.run.stored = with_option(t.run.stored, "--steps", "");
  }
  const GPT2Config config = t.model.config();
  // run.json is written once train() has checked everything and begins: a run that fails its
  // checks leaves no record (and, with --force, the run it would replace is still there).
  bool replaced = t.run.resume;
  tc.on_start = [&] {
    if (!replaced) replace_run_files(tc.out_dir);
    replaced = true;
    gpt2::create_directories(tc.out_dir);
    write_file_atomic(tc.out_dir / "run.json", run_file_text(t.run.stored, config));
  };

  const int64_t tokens_per_step = int64_t{tc.batch_size} * tc.seq_len * tc.grad_accum_steps;
  bool probing = t.plan_steps, probe_done = false;
  int probe_start = -1;  // the first step of this call (the probe measures from there)
  const int probe_steps = std::max(tc.warmup_steps, kMinProbeSteps);
  const StepCallback on_step = [&](const StepMetrics& m) {
    if (t.log_lines && (std::isfinite(m.val_loss) || m.step == 1))
      log_line(t.io.err, m, probing ? 0 : tc.steps);
    if (probe_start < 0) probe_start = m.step - 1;
    if (probing && !probe_done &&
        (m.step - probe_start >= probe_steps || m.elapsed_seconds >= tc.time_budget_seconds / 4)) {
      probe_done = true;
      request_stop();  // enough steps measured: plan the schedule, then continue (below)
    }
  };
  const bool progress = tc.progress;
  if (probing) tc.progress = false;  // the probe's steps take seconds; its schedule is provisional
  TrainResult result = train(t.model, tc, t.tokenizer_dir, on_step);
  tc.progress = progress;
  if (!probe_done || !result.interrupted) return result;  // (Ctrl-C during the probe: planned on resume)

  if (result.budget_reached) {
    // The whole budget went into the timed steps (a single step took most of it): the schedule is
    // the steps done.
    tc.steps = result.final_step;
    t.run.stored = with_option(t.run.stored, "--steps", std::to_string(tc.steps));
    write_file_atomic(tc.out_dir / "run.json", run_file_text(t.run.stored, config));
    t.io.err
        << "note: the time budget ran out while the first " << tc.steps
        << " step(s) were timed; the schedule is those steps (give a longer --time-budget, or --steps)\n";
    return result;
  }
  // The pace of the later half of the probe (the first steps are slower: caches, memory).
  const std::vector<StepMetrics> probe(
      result.history.begin() + static_cast<std::ptrdiff_t>(result.history.size() / 2), result.history.end());
  const double step_seconds = median_step_seconds(probe, tokens_per_step);
  const double elapsed = result.history.back().elapsed_seconds;
  tc.steps =
      result.final_step + steps_for_budget({step_seconds, step_seconds / 3}, tc.time_budget_seconds - elapsed,
                                           tc.eval_interval, tc.eval_steps);
  char line[200];
  std::snprintf(line, sizeof line, "time budget %s: a step takes %.3f s, so the schedule has %d steps\n",
                format_duration(tc.time_budget_seconds).c_str(), step_seconds, tc.steps);
  t.io.err << line;
  if (tc.steps <= tc.warmup_steps)
    t.io.err << "note: " << tc.steps << " steps are not more than the " << tc.warmup_steps
             << " warmup steps, so the learning rate never reaches its peak nor decays; give a longer "
                "--time-budget or a shorter --warmup\n";
  t.run.stored = with_option(t.run.stored, "--steps", std::to_string(tc.steps));
  probing = false;
  tc.resume = true;  // continues exactly: the learning rate of the steps so far did not depend on it
  TrainResult rest = train(t.model, tc, t.tokenizer_dir, on_step);  // (its on_start rewrites run.json)
  rest.history.insert(rest.history.begin(), result.history.begin(), result.history.end());
  rest.start_step = result.start_step;
  return rest;
}

// ----- 7. the model directory and the summary -----------------------------------------------------

// The kernels `backend` computes with: for chapter 08's fast CPU backend its kernel set (portable,
// avx2+fma or avx512, whose sums differ in their last bits, so the same run on another set gives
// slightly different losses), "plain" for chapter 05's loops, else the backend's name.
std::string kernels_of(const Backend& backend) {
  if (backend.name() == "cpu-fast") return simd_name(active_simd());
  if (backend.name() == "cpu") return "plain";
  return backend.name();
}

// The validation loss of the trained model: the last step's, when training measured it there,
// else measured now. Called on every rank: under mpirun each rank takes its share of the batches
// (chapter 06's evaluate()), which gives the one process's number.
float final_val_loss(GPT2& model, const TrainConfig& tc, const TrainResult& result, const DataFiles& data) {
  if (!result.history.empty() && std::isfinite(result.history.back().val_loss))
    return result.history.back().val_loss;
  if (tc.val_file.empty()) return NAN;
  Gpt2Trainable trainable(model, data.tokenizer);
  DataLoader val_data = DataLoader::from_file(tc.val_file, tc.batch_size, tc.seq_len, false, tc.seed);
  return evaluate(trainable, val_data, tc.eval_steps, tc.data_parallel);
}

void finish_run(GPT2& model, const TrainConfig& tc, const TrainResult& result, const DataFiles& data,
                float val_loss, bool steps_known, const TrainingRanks::Report& ranks, const ArgParser& p,
                CommandIO io) {
  const fs::path model_dir = tc.out_dir / "model";
  model.save(model_dir, data.tokenizer);
  const std::vector<StepMetrics> rows = read_metrics_csv(tc.out_dir / "metrics.csv");
  double train_loss = NAN, elapsed = 0;
  if (!rows.empty()) {
    // The mean of the last (up to) 20 steps: one step's loss is noisy.
    const size_t n = std::min<size_t>(20, rows.size());
    double sum = 0;
    for (size_t i = rows.size() - n; i < rows.size(); ++i) sum += rows[i].train_loss;
    train_loss = sum / n;
    elapsed = rows.back().elapsed_seconds;
  }
  auto number_or_null = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); };
  const char* stopped_by = result.budget_reached ? "time budget" : result.interrupted ? "interrupt" : "steps";
  nlohmann::json summary = {
      {"config", nlohmann::json::parse(config_to_json(model.config()))},
      {"parameters", model.num_parameters()},
      {"kernels", kernels_of(model.backend())},
      {"steps", steps_known ? nlohmann::json(tc.steps) : nlohmann::json()},
      {"completed_steps", result.final_step},
      {"stopped_by", stopped_by},
      {"train_loss_last20", number_or_null(train_loss)},
      {"val_loss", number_or_null(val_loss)},
      {"training_seconds", elapsed},
      {"tokens_trained",
       int64_t{result.final_step} * tc.batch_size * tc.seq_len * tc.grad_accum_steps * ranks.ranks()},
      {"model_dir", model_dir.string()},
      {"metrics", (tc.out_dir / "metrics.csv").string()},
      {"loss_plot", (tc.out_dir / "loss.svg").string()},
  };
  // The ranks, the CPU time of the training (every rank's, from the start of the first step's
  // setup), and how long each rank's steps waited in collectives.
  summary.update(ranks.summary());
  write_file_atomic(tc.out_dir / "summary.json", summary.dump(2) + "\n");
  io.err << result.final_step << (steps_known ? cat("/", tc.steps) : std::string()) << " steps in "
         << format_duration(elapsed)
         << (result.budget_reached ? " (time budget reached)"
             : result.interrupted  ? " (interrupted)"
                                   : "")
         << "; train loss " << loss_text(train_loss) << " (last 20 steps), val loss " << loss_text(val_loss)
         << "\n"
         << "saved " << model_dir.string() << "; metrics " << (tc.out_dir / "metrics.csv").string()
         << ", plot " << (tc.out_dir / "loss.svg").string() << "\n";
  if (result.interrupted && !result.budget_reached)
    io.err << "continue with: " << mpirun_prefix(ranks.ranks()) << "gpt2 train --resume "
           << tc.out_dir.string() << "\n";
  if (p.given("--json")) io.out << summary.dump() << "\n";
}

int cmd_train(std::span<const std::string> args, CommandIO io) {
  ArgParser cli = make_train_parser();
  if (!cli.parse(args, io.out)) return 0;
  RunOptions run = read_run_options(cli, args);  // 1.
  const ArgParser& p = run.parser;
  TrainConfig tc = train_config(p, run.resume);  // 2.
  const DataFiles data = find_data(p);           // 3.
  BackendOptions backend_choice = backend_options(p);
  TrainingRanks ranks(io, p, backend_choice);  // one process, or mpirun's ranks (may pick the GPU)
  const bool created_dir = !fs::exists(tc.out_dir);
  if (!run.resume && ranks.rank() == 0) check_run_dir(p, tc.out_dir, data);  // 4. (rank 0 writes)
  const Tokenizer tokenizer = Tokenizer::load(data.tokenizer);
  std::unique_ptr<Backend> backend = make_backend(backend_choice);
  std::unique_ptr<GPT2> model = make_model(p, *backend, tokenizer, data.tokenizer);  // 5.
  const GPT2Config& config = model->config();
  tc.train_file = data.train;
  tc.val_file = data.val;
  tc.seq_len = p.given("--seq-len") ? static_cast<int>(p.get_int("--seq-len", 1, config.n_positions))
                                    : config.n_positions;
  tc.title = cat("gpt2 train: ", to_string(config), ", B=", tc.batch_size, " T=", tc.seq_len);
  validate(tc);
  tc.data_parallel = ranks.hook(rank_checks(run, data, p, *backend));

  const bool sized_to_budget = !p.given("--steps") && tc.time_budget_seconds > 0;
  io.err << (run.resume ? "resuming " : "training ") << to_string(config) << " (" << model->num_parameters()
         << " parameters) on " << backend->name() << " with " << max_threads()
         << " thread(s): B=" << tc.batch_size << " T=" << tc.seq_len << " K=" << tc.grad_accum_steps << ", "
         << (sized_to_budget ? "steps sized to the time budget" : cat(tc.steps, " steps")) << ", lr " << tc.lr
         << dropout_text(config.dropout) << "\n";
  if (const std::string line = ranks.describe(static_cast<size_t>(model->num_parameters())); !line.empty())
    io.err << line << "\n";
  const bool log_lines = p.given("--no-progress") || !isatty(fileno(stderr));
  const double cpu_start = process_cpu_seconds();
  TrainResult result;
  try {
    result = run_training({*model, tc, run, data.tokenizer, sized_to_budget, log_lines, io});  // 6.
  } catch (const Error&) {
    if (!run.resume && ranks.rank() == 0) forget_unstarted_run(tc.out_dir, created_dir);
    throw;
  }
  const TrainingRanks::Report report = ranks.report(cpu_start);
  const float val_loss = final_val_loss(*model, tc, result, data);
  if (ranks.rank() != 0) return 0;  // rank 0 writes the model and the summary
  const bool steps_known = !sized_to_budget || tc.steps != kProvisionalSteps;
  finish_run(*model, tc, result, data, val_loss, steps_known, report, p, io);  // 7.
  return 0;
}

}  // namespace

void register_train_commands(std::vector<Command>& commands) {
  commands.push_back({{"train"},
                      "train a GPT-2 from scratch or fine-tune one (also under mpirun)",
                      cmd_train,
                      /*runs_on_ranks=*/true});
}

}  // namespace gpt2
