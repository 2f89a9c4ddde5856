// gpt2 train: train a GPT-2 from scratch or fine-tune one, with chapter 06's loop and chapter 08's
// kernels; resume an interrupted run; stop after a time budget.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/06_training/data_loader.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/06_training/stop_signal.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/step_budget.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/progress.h"
#include "common/timer.h"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

// Options that may be given again with --resume (they do not change what the run computes, or,
// for --steps, only extend or shorten it). Every other option comes from the run's run.json.
const std::vector<std::string> kResumeOverrides = {"--resume",      "--time-budget",   "--steps",
                                                   "--no-progress", "--plain-kernels", "--json"};
// Options that are paths: stored absolute in run.json, so a run resumes from any directory.
const std::vector<std::string> kPathOptions = {"--data",      "--train", "--val",
                                               "--tokenizer", "--init",  "--out"};
// The model-shape options, which --init takes from the model directory instead.
const std::vector<std::string> kShapeOptions = {"--config", "--n-layer", "--n-head",
                                                "--n-embd", "--context", "--vocab-size"};

// The schedule's length while the first steps are timed (its cosine barely moves in them), and
// the fewest steps timed.
constexpr int kProvisionalSteps = 1000000;
constexpr int kMinProbeSteps = 20;

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

ArgParser make_parser() {
  ArgParser p(
      "gpt2 train",
      "Trains a GPT-2 on token files from 'gpt2 prepare' (chapter 06's loop: AdamW, warmup + cosine\n"
      "schedule, gradient clipping and accumulation, validation, checkpoints) on chapter 08's fast\n"
      "kernels. From scratch, the shape is --config NAME (gpt2, gpt2-medium, gpt2-large, gpt2-xl) and/or\n"
      "the explicit --n-layer/--n-head/--n-embd/--context/--vocab-size (default: 4 layers, 4 heads, 128\n"
      "channels, context 256, the tokenizer's vocabulary); --init MODEL_DIR fine-tunes a model instead.\n"
      "RUN_DIR gets metrics.csv, loss.svg, checkpoints/, run.json (the options, for --resume),\n"
      "summary.json and model/, a complete model directory for 'gpt2 generate' and 'gpt2 eval'.\n"
      "Ctrl-C stops after the current step and saves a checkpoint; --resume RUN_DIR continues exactly.");
  p.option("--data", "DIR", "prepared data: DIR/train.bin, DIR/val.bin (if present), DIR/tokenizer/");
  p.option("--train", "FILE", "training token file (instead of --data)");
  p.option("--val", "FILE", "validation token file (instead of --data)");
  p.option("--tokenizer", "DIR",
           "tokenizer saved with the model (default: --data's, else --init's, else GPT-2's)");
  p.option("--out", "RUN_DIR", "run directory (required unless --resume)");
  p.option("--resume", "RUN_DIR", "continue the run in RUN_DIR from its newest checkpoint");
  p.option("--init", "MODEL_DIR", "start from this model (fine-tuning) instead of random weights");
  p.option("--config", "NAME", "a named shape: gpt2, gpt2-medium, gpt2-large, gpt2-xl");
  p.option("--n-layer", "L", "transformer blocks");
  p.option("--n-head", "NH", "attention heads (must divide --n-embd)");
  p.option("--n-embd", "C", "channels");
  p.option("--context", "maxT", "context length (positions)");
  p.option("--vocab-size", "V", "vocabulary size (default: the tokenizer's)");
  p.option("--init-seed", "N", "seed of the random initial weights", "1337");
  p.option("--batch-size", "B", "sequences per micro-batch", "8");
  p.option("--seq-len", "T", "tokens per sequence (default: the context)");
  p.option("--grad-accum", "K", "micro-batches per optimizer step", "1");
  p.option("--steps", "N", "optimizer steps (default 1000; with --time-budget: as many as fit)");
  p.option("--lr", "LR", "peak learning rate", "1e-3");
  p.option("--min-lr", "LR", "final learning rate of the cosine decay (default: lr / 10)");
  p.option("--warmup", "N", "linear warmup steps", "100");
  p.option("--weight-decay", "WD", "AdamW weight decay of the matrices", "0.1");
  p.option("--beta1", "B1", "AdamW beta1", "0.9");
  p.option("--beta2", "B2", "AdamW beta2", "0.95");
  p.option("--eps", "EPS", "AdamW epsilon", "1e-8");
  p.option("--grad-clip", "C", "clip the global gradient norm to C (0: no clipping)", "1.0");
  p.option("--eval-interval", "N", "validate every N steps and at the end (0: never)", "100");
  p.option("--eval-steps", "N", "validation batches per evaluation", "20");
  p.option("--checkpoint-interval", "N", "checkpoint every N steps (0: only at the end)", "500");
  p.option("--keep-checkpoints", "N", "checkpoints to keep", "2");
  p.option("--seed", "N", "seed of the training data's order", "1337");
  p.flag("--no-shuffle", "visit the training windows in order");
  p.option("--time-budget", "SECONDS",
           "stop after this much training time (and save); without --steps, the schedule is sized to it");
  add_backend_options(p);
  p.flag("--no-progress", "no progress bar; print a line per evaluation instead");
  p.flag("--json", "print summary.json on stdout at the end");
  return p;
}

// The shape of a fresh model from the options (see the command's help).
GPT2Config model_shape(const ArgParser& p, int tokenizer_vocab) {
  GPT2Config c = GPT2Config::make(4, 4, 128, 256, tokenizer_vocab);
  if (p.given("--config")) {
    c = GPT2Config::from_name(p.get("--config"));
    c.vocab_size = tokenizer_vocab;
  }
  if (p.given("--n-layer")) c.n_layer = static_cast<int>(p.get_int("--n-layer", 1, 1000));
  if (p.given("--n-head")) c.n_head = static_cast<int>(p.get_int("--n-head", 1, 1 << 16));
  if (p.given("--n-embd")) c.n_embd = static_cast<int>(p.get_int("--n-embd", 1, 1 << 16));
  if (p.given("--context")) c.n_positions = static_cast<int>(p.get_int("--context", 1, 1 << 20));
  if (p.given("--vocab-size")) c.vocab_size = static_cast<int>(p.get_int("--vocab-size", 1, 1 << 24));
  GPT2_CHECK(c.n_embd % c.n_head == 0, "gpt2 train: --n-embd ", c.n_embd, " is not divisible by --n-head ",
             c.n_head);
  c.validate("gpt2 train");
  return c;
}

std::string absolute(const std::string& path) {
  return fs::absolute(path).lexically_normal().string();
}

// The command line of a fresh run as run.json stores it: every option that was given (paths made
// absolute), without the flags that only change how the run reports (they may differ on resume).
std::vector<std::string> stored_args(std::span<const std::string> args, const ArgParser& p) {
  const std::vector<std::string> flags = {"--no-shuffle", "--no-progress", "--plain-kernels", "--json"};
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string name = args[i].substr(0, args[i].find('='));
    const bool is_flag = contains(flags, name);
    if (!is_flag && args[i].find('=') == std::string::npos) ++i;  // skip the value
    if (is_flag) {
      if (name == "--no-shuffle") out.push_back(name);
      continue;
    }
    out.push_back(name);
    out.push_back(contains(kPathOptions, name) ? absolute(p.get(name)) : p.get(name));
  }
  return out;
}

// One line of progress for logs (when there is no progress bar). steps = 0: not known yet.
void log_line(std::ostream& err, const StepMetrics& m, int steps) {
  char line[200];
  const std::string of = steps > 0 ? cat("/", steps) : "";
  // A step without a validation pass has val_loss NaN: show "-" rather than "nan".
  char val[32] = "-";
  if (!std::isnan(m.val_loss)) std::snprintf(val, sizeof val, "%.4f", m.val_loss);
  std::snprintf(line, sizeof line, "step %5d%s | loss %.4f | val %s | lr %.2e | %.0f tok/s | %s\n", m.step,
                of.c_str(), m.train_loss, val, m.lr, m.tokens_per_sec,
                format_duration(m.elapsed_seconds).c_str());
  err << line;
  err.flush();
}

int cmd_train(std::span<const std::string> args, CommandIO io) {
  ArgParser p = make_parser();
  if (!p.parse(args, io.out)) return 0;

  // ----- resume: the run's own options, plus the few that may change ---------------------------
  nlohmann::json run_json;
  std::vector<std::string> effective(args.begin(), args.end());
  const bool resume = p.given("--resume");
  if (resume) {
    const fs::path run_dir = p.get("--resume");
    GPT2_CHECK(fs::is_directory(run_dir), "gpt2 train: --resume: run directory '", run_dir.string(),
               "' does not exist");
    const fs::path run_file = run_dir / "run.json";
    GPT2_CHECK(fs::exists(run_file), "gpt2 train: --resume: '", run_dir.string(),
               "' is not a run directory of 'gpt2 train' (it has no run.json)");
    for (const std::string& a : args) {
      const std::string name = a.substr(0, a.find('='));
      GPT2_CHECK(a.rfind("--", 0) != 0 || contains(kResumeOverrides, name), "gpt2 train: option '", name,
                 "' cannot be changed when resuming (the run's options are in ", run_file.string(),
                 "); only --time-budget, --steps, --no-progress, --plain-kernels and --json can");
    }
    try {
      run_json = nlohmann::json::parse(read_file(run_file));
      effective = run_json.at("args").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      fail(run_file.string(), ": not a valid run.json (", e.what(), ")");
    }
    effective.insert(effective.end(), args.begin(), args.end());  // later values win
    p = make_parser();
    std::ostringstream ignored;
    p.parse(effective, ignored);
  }

  // ----- the run's options (chapter 06's TrainConfig) ------------------------------------------
  TrainConfig tc;
  GPT2_CHECK(resume || p.given("--out"),
             "gpt2 train: missing required option '--out RUN_DIR' (or --resume RUN_DIR)");
  tc.out_dir = resume ? fs::path(p.get("--resume")) : fs::path(p.get("--out"));
  tc.batch_size = static_cast<int>(p.get_int("--batch-size", 1, 1 << 20));
  tc.grad_accum_steps = static_cast<int>(p.get_int("--grad-accum", 1, 1 << 20));
  tc.lr = static_cast<float>(p.get_double("--lr", 0.0, 10.0));
  tc.min_lr = p.given("--min-lr") ? static_cast<float>(p.get_double("--min-lr", 0.0, tc.lr)) : tc.lr / 10;
  tc.warmup_steps = static_cast<int>(p.get_int("--warmup", 0, INT32_MAX));
  tc.weight_decay = static_cast<float>(p.get_double("--weight-decay", 0.0, 1e3));
  tc.beta1 = static_cast<float>(p.get_double("--beta1", 0.0, 0.999999));
  tc.beta2 = static_cast<float>(p.get_double("--beta2", 0.0, 0.999999));
  tc.eps = static_cast<float>(p.get_double("--eps", 1e-30, 1.0));
  tc.grad_clip = static_cast<float>(p.get_double("--grad-clip", 0.0, 1e9));
  tc.eval_interval = static_cast<int>(p.get_int("--eval-interval", 0, INT32_MAX));
  tc.eval_steps = static_cast<int>(p.get_int("--eval-steps", 1, INT32_MAX));
  tc.checkpoint_interval = static_cast<int>(p.get_int("--checkpoint-interval", 0, INT32_MAX));
  tc.keep_checkpoints = static_cast<int>(p.get_int("--keep-checkpoints", 1, 1000));
  tc.seed = static_cast<uint64_t>(p.get_int("--seed", 0, INT64_MAX));
  tc.shuffle = !p.given("--no-shuffle");
  tc.resume = resume;
  tc.progress = !p.given("--no-progress");
  const int steps_option = p.given("--steps") ? static_cast<int>(p.get_int("--steps", 0, INT32_MAX)) : -1;
  const double time_budget = p.given("--time-budget") ? p.get_double("--time-budget", 0.0, 1e9) : 0.0;
  GPT2_CHECK(!p.given("--time-budget") || time_budget > 0, "gpt2 train: option '--time-budget' must be > 0");
  // ----- data and tokenizer ---------------------------------------------------------------------
  GPT2_CHECK(p.given("--data") != p.given("--train"),
             "gpt2 train: give the data as --data DIR (from 'gpt2 "
             "prepare') or as --train FILE [--val FILE], exactly one");
  GPT2_CHECK(!(p.given("--data") && p.given("--val")),
             "gpt2 train: --val goes with --train, not with --data");
  fs::path train_file, val_file, tokenizer_dir;
  if (p.given("--data")) {
    const fs::path data = p.get("--data");
    GPT2_CHECK(fs::is_directory(data), "gpt2 train: --data: directory '", data.string(), "' does not exist");
    train_file = data / "train.bin";
    GPT2_CHECK(fs::exists(train_file), "gpt2 train: --data: '", data.string(),
               "' has no train.bin (make it with 'gpt2 prepare --out ", data.string(), "')");
    if (fs::exists(data / "val.bin")) val_file = data / "val.bin";
    if (has_tokenizer_files(data / "tokenizer")) tokenizer_dir = data / "tokenizer";
  } else {
    train_file = p.get("--train");
    GPT2_CHECK(fs::exists(train_file), "gpt2 train: --train: file '", train_file.string(),
               "' does not exist");
    if (p.given("--val")) {
      val_file = p.get("--val");
      GPT2_CHECK(fs::exists(val_file), "gpt2 train: --val: file '", val_file.string(), "' does not exist");
    }
  }
  if (p.given("--tokenizer")) tokenizer_dir = p.get("--tokenizer");
  if (tokenizer_dir.empty() && p.given("--init")) tokenizer_dir = resolve_model_dir(p.get("--init"));
  if (tokenizer_dir.empty()) tokenizer_dir = default_tokenizer_dir();
  const Tokenizer tokenizer = Tokenizer::load(tokenizer_dir);

  // ----- the model -----------------------------------------------------------------------------
  std::unique_ptr<Backend> backend = make_backend(backend_options(p));
  std::unique_ptr<GPT2> model;
  if (p.given("--init")) {
    for (const std::string& name : kShapeOptions)
      GPT2_CHECK(!p.given(name), "gpt2 train: ", name,
                 " cannot be combined with --init (the shape comes from ",
                 "the model directory's config.json)");
    model = std::make_unique<GPT2>(GPT2::load(resolve_model_dir(p.get("--init")), *backend));
  } else {
    model = std::make_unique<GPT2>(model_shape(p, tokenizer.vocab_size()), *backend);
    model->init_random(static_cast<uint64_t>(p.get_int("--init-seed", 0, INT64_MAX)));
  }
  const GPT2Config& config = model->config();
  GPT2_CHECK(tokenizer.vocab_size() <= config.vocab_size, "gpt2 train: the tokenizer (",
             tokenizer_dir.string(), ") has ", tokenizer.vocab_size(),
             " tokens but the model's vocabulary is only ", config.vocab_size);

  tc.train_file = train_file;
  tc.val_file = val_file;
  tc.seq_len = p.given("--seq-len") ? static_cast<int>(p.get_int("--seq-len", 1, config.n_positions))
                                    : config.n_positions;
  // Check the data now, so that mistakes are reported before anything is written.
  DataLoader::from_file(tc.train_file, tc.batch_size, tc.seq_len, false, tc.seed);
  validate(tc);

  if (!resume) {
    GPT2_CHECK(!fs::exists(tc.out_dir / "run.json") && !fs::exists(tc.out_dir / "checkpoints"),
               "gpt2 train: '", tc.out_dir.string(), "' already holds a run; continue it with --resume ",
               tc.out_dir.string(), ", or choose another --out (or delete it)");
  }
  // With a time budget and no --steps, the length of the schedule is planned from the pace of the
  // first steps (step_budget.h): until then the run uses a provisional, very long schedule.
  const bool plan_steps = steps_option < 0 && time_budget > 0;
  tc.steps = steps_option >= 0 ? steps_option : plan_steps ? kProvisionalSteps : 1000;
  tc.title = cat("gpt2 train: ", to_string(config), ", B=", tc.batch_size, " T=", tc.seq_len);

  // run.json: the options of a fresh run, and the planned number of steps once it is known.
  const std::vector<std::string> stored =
      resume ? run_json.at("args").get<std::vector<std::string>>() : stored_args(args, p);
  auto write_run_json = [&](int steps) {  // steps < 0: not known yet
    std::vector<std::string> a;
    for (size_t i = 0; i < stored.size(); ++i) {
      if (stored[i] == "--steps") {
        ++i;
        continue;
      }
      a.push_back(stored[i]);
    }
    if (steps >= 0) a.insert(a.end(), {"--steps", std::to_string(steps)});
    run_json = {{"args", a}, {"config", nlohmann::json::parse(config_to_json(config))}};
    write_file_atomic(tc.out_dir / "run.json", run_json.dump(2) + "\n");
  };
  if (!resume) {
    gpt2::create_directories(tc.out_dir);
    write_run_json(plan_steps ? -1 : tc.steps);
  }

  io.err << (resume ? "resuming " : "training ") << to_string(config) << " (" << model->num_parameters()
         << " parameters) on " << backend->name() << " with " << max_threads()
         << " thread(s): B=" << tc.batch_size << " T=" << tc.seq_len << " K=" << tc.grad_accum_steps << ", "
         << (plan_steps ? "steps sized to the time budget" : cat(tc.steps, " steps")) << ", lr " << tc.lr
         << "\n";

  // ----- train ---------------------------------------------------------------------------------
  const bool log_lines = p.given("--no-progress") || !isatty(fileno(stderr));
  const int64_t tokens_per_step = int64_t{tc.batch_size} * tc.seq_len * tc.grad_accum_steps;
  bool budget_hit = false, probing = plan_steps;
  int probe_start = -1;  // the first step of this call (the probe measures from there)
  const int probe_steps = std::max(tc.warmup_steps, kMinProbeSteps);
  const StepCallback on_step = [&](const StepMetrics& m) {
    if (log_lines && (std::isfinite(m.val_loss) || m.step == 1)) log_line(io.err, m, probing ? 0 : tc.steps);
    if (probe_start < 0) probe_start = m.step - 1;
    // Stop when the next step would end past the budget.
    const double step_seconds = m.tokens_per_sec > 0 ? tokens_per_step / m.tokens_per_sec : 0;
    if (time_budget > 0 && m.elapsed_seconds + step_seconds > time_budget && m.step < tc.steps) {
      budget_hit = true;
      request_stop();
    } else if (probing && m.step - probe_start >= probe_steps) {
      request_stop();  // enough steps measured: plan the schedule, then continue (below)
    }
  };
  const bool progress = tc.progress;
  if (probing) tc.progress = false;  // the probe's steps take seconds; its schedule is provisional
  TrainResult result = train(*model, tc, tokenizer_dir, on_step);
  tc.progress = progress;
  if (probing && result.interrupted && !budget_hit && !result.history.empty()) {
    // The pace of the later half of the probe (the first steps are slower: caches, memory).
    const std::vector<StepMetrics> probe(
        result.history.begin() + static_cast<std::ptrdiff_t>(result.history.size() / 2),
        result.history.end());
    const double step_seconds = median_step_seconds(probe, tokens_per_step);
    const double elapsed = result.history.back().elapsed_seconds;
    tc.steps = result.final_step + steps_for_budget({step_seconds, step_seconds / 3}, time_budget - elapsed,
                                                    tc.eval_interval, tc.eval_steps);
    char line[200];
    std::snprintf(line, sizeof line, "time budget %s: a step takes %.3f s, so the schedule has %d steps\n",
                  format_duration(time_budget).c_str(), step_seconds, tc.steps);
    io.err << line;
    write_run_json(tc.steps);
    probing = false;
    tc.resume = true;  // continues exactly: the learning rate of the steps so far did not depend on it
    TrainResult rest = train(*model, tc, tokenizer_dir, on_step);
    rest.history.insert(rest.history.begin(), result.history.begin(), result.history.end());
    rest.start_step = result.start_step;
    result = std::move(rest);
  }

  // ----- the final validation loss, the model directory, the summary ----------------------------
  float val_loss = NAN;
  if (!result.history.empty() && std::isfinite(result.history.back().val_loss)) {
    val_loss = result.history.back().val_loss;
  } else if (!tc.val_file.empty()) {
    Gpt2Trainable trainable(*model, tokenizer_dir);
    DataLoader val_data = DataLoader::from_file(tc.val_file, tc.batch_size, tc.seq_len, false, tc.seed);
    val_loss = evaluate(trainable, val_data, tc.eval_steps);
  }
  const fs::path model_dir = tc.out_dir / "model";
  model->save(model_dir, tokenizer_dir);
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
  nlohmann::json summary = {
      {"config", nlohmann::json::parse(config_to_json(config))},
      {"parameters", model->num_parameters()},
      {"steps", tc.steps},
      {"completed_steps", result.final_step},
      {"stopped_by", result.interrupted ? (budget_hit ? "time budget" : "interrupt") : "steps"},
      {"train_loss_last20", std::isfinite(train_loss) ? nlohmann::json(train_loss) : nlohmann::json()},
      {"val_loss", std::isfinite(val_loss) ? nlohmann::json(val_loss) : nlohmann::json()},
      {"training_seconds", elapsed},
      {"tokens_trained",
       static_cast<double>(result.final_step) * tc.batch_size * tc.seq_len * tc.grad_accum_steps},
      {"model_dir", model_dir.string()},
      {"metrics", (tc.out_dir / "metrics.csv").string()},
      {"loss_plot", (tc.out_dir / "loss.svg").string()},
  };
  write_file_atomic(tc.out_dir / "summary.json", summary.dump(2) + "\n");
  char line[300];
  std::snprintf(line, sizeof line, "%d/%d steps in %s%s; train loss %.4f (last 20 steps), val loss %.4f\n",
                result.final_step, tc.steps, format_duration(elapsed).c_str(),
                result.interrupted ? (budget_hit ? " (time budget reached)" : " (interrupted)") : "",
                train_loss, val_loss);
  io.err << line << "saved " << model_dir.string() << "; metrics " << (tc.out_dir / "metrics.csv").string()
         << ", plot " << (tc.out_dir / "loss.svg").string() << "\n";
  if (result.interrupted && !budget_hit)
    io.err << "continue with: gpt2 train --resume " << tc.out_dir.string() << "\n";
  if (p.given("--json")) io.out << summary.dump() << "\n";
  return 0;
}

}  // namespace

void register_train_commands(std::vector<Command>& commands) {
  commands.push_back({{"train"}, "train a GPT-2 from scratch or fine-tune one", cmd_train});
}

}  // namespace gpt2
