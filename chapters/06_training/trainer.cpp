#include "trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "adamw.h"
#include "checkpoint.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/progress.h"
#include "common/timer.h"
#include "grad_clip.h"
#include "lr_schedule.h"
#include "stop_signal.h"
#include "training_ops.h"

namespace gpt2 {

void TrainableModel::backward_weighted(float weight) {
  GPT2_CHECK(weight == 1.0f, "this model cannot weigh its loss (backward_weighted(", weight, "))");
  backward();
}

void validate(const TrainConfig& c) {
  GPT2_CHECK(!c.train_file.empty() || c.train_batches,
             "TrainConfig.train_file: a training token file (or train_batches) is needed");
  GPT2_CHECK(c.batch_size > 0, "TrainConfig.batch_size must be > 0, got ", c.batch_size);
  GPT2_CHECK(c.seq_len > 0, "TrainConfig.seq_len must be > 0, got ", c.seq_len);
  GPT2_CHECK(c.grad_accum_steps > 0, "TrainConfig.grad_accum_steps must be > 0, got ", c.grad_accum_steps);
  GPT2_CHECK(c.steps >= 0, "TrainConfig.steps must be >= 0, got ", c.steps);
  GPT2_CHECK(std::isfinite(c.lr) && c.lr >= 0, "TrainConfig.lr must be >= 0, got ", c.lr);
  GPT2_CHECK(std::isfinite(c.min_lr) && c.min_lr >= 0 && c.min_lr <= c.lr,
             "TrainConfig.min_lr must be in [0, lr], got ", c.min_lr);
  GPT2_CHECK(c.warmup_steps >= 0, "TrainConfig.warmup_steps must be >= 0, got ", c.warmup_steps);
  GPT2_CHECK(c.weight_decay >= 0, "TrainConfig.weight_decay must be >= 0, got ", c.weight_decay);
  GPT2_CHECK(c.beta1 >= 0 && c.beta1 < 1, "TrainConfig.beta1 must be in [0, 1), got ", c.beta1);
  GPT2_CHECK(c.beta2 >= 0 && c.beta2 < 1, "TrainConfig.beta2 must be in [0, 1), got ", c.beta2);
  GPT2_CHECK(c.eps > 0, "TrainConfig.eps must be > 0, got ", c.eps);
  GPT2_CHECK(c.eval_interval >= 0, "TrainConfig.eval_interval must be >= 0, got ", c.eval_interval);
  GPT2_CHECK(c.eval_steps > 0, "TrainConfig.eval_steps must be > 0, got ", c.eval_steps);
  GPT2_CHECK(c.checkpoint_interval >= 0, "TrainConfig.checkpoint_interval must be >= 0, got ",
             c.checkpoint_interval);
  GPT2_CHECK(c.keep_checkpoints >= 1, "TrainConfig.keep_checkpoints must be >= 1, got ", c.keep_checkpoints);
}

float evaluate(TrainableModel& model, BatchSource& loader, int batches) {
  model.set_training(false);  // no dropout while measuring
  loader.reset();
  batches = static_cast<int>(std::min<int64_t>(batches, loader.batches_per_epoch()));
  std::vector<int> inputs(static_cast<size_t>(loader.B()) * loader.T()), targets(inputs.size());
  double sum = 0.0;
  for (int i = 0; i < batches; ++i) {
    loader.next_batch(inputs.data(), targets.data());
    sum += model.forward(inputs.data(), targets.data(), loader.B(), loader.T());
  }
  model.set_training(true);
  return static_cast<float>(sum / batches);
}

StepOutcome train_step(TrainableModel& model, AdamW& optimizer, const MicroBatchSource& next, int B, int T,
                       int K, float lr, float grad_clip, const std::function<bool()>& keep_going) {
  // Forward and backward over K micro-batches, fetched one at a time (K·B·T ids at once could be
  // gigabytes); the gradients add up in grads().
  StepOutcome outcome;
  std::vector<int> inputs(static_cast<size_t>(B) * T), targets(inputs.size());
  model.zero_grad();
  // Micro-batch k's loss is the mean over its n_k targets; the step's is the mean over all of them,
  // sum_k n_k loss_k / sum_k n_k. So micro-batch k counts with weight w_k = n_k / n_0, and the
  // weighted sums are divided by sum_k w_k. When every n_k is the same (pretraining: B·T each),
  // every w_k is exactly 1 and this is the plain mean over the K micro-batches.
  float loss_sum = 0.0f, weight_sum = 0.0f;
  int64_t first_targets = 0;
  for (int k = 0; k < K; ++k) {
    if (k > 0 && keep_going && !keep_going()) {
      outcome.status = StepStatus::kAbandoned;
      return outcome;
    }
    next(k, inputs.data(), targets.data());
    const int64_t n = std::count_if(targets.begin(), targets.end(), [](int t) { return t >= 0; });
    if (k == 0) first_targets = std::max<int64_t>(n, 1);
    const float weight = static_cast<float>(n) / static_cast<float>(first_targets);
    const float loss = model.forward(inputs.data(), targets.data(), B, T);
    if (weight == 1.0f) {
      model.backward();
    } else {
      model.backward_weighted(weight);
    }
    loss_sum += weight * loss;
    weight_sum += weight;
  }
  // The rest runs where the gradients are, with the backend's operations (training_ops.h).
  TrainingOps& ops = training_ops(model.backend());
  std::span<float> grads = model.grads();
  if (K > 1) ops.scale(grads.data(), grads.size(), 1.0f / weight_sum);
  outcome.loss = loss_sum / weight_sum;
  outcome.grad_norm = clip_grad_norm(ops, grads.data(), grads.size(), grad_clip);
  // A NaN or an infinity would spread to every weight in one update: do not apply it.
  if (!std::isfinite(outcome.loss) || !std::isfinite(outcome.grad_norm)) {
    outcome.status = StepStatus::kNonFinite;
    return outcome;
  }
  optimizer.step(model.params(), grads, lr);
  return outcome;
}

StepOutcome train_step(TrainableModel& model, AdamW& optimizer, const int* inputs, const int* targets, int B,
                       int T, int K, float lr, float grad_clip) {
  const size_t n = static_cast<size_t>(B) * T;
  auto from_arrays = [&](int k, int* in, int* tg) {
    std::copy_n(inputs + static_cast<size_t>(k) * n, n, in);
    std::copy_n(targets + static_cast<size_t>(k) * n, n, tg);
  };
  return train_step(model, optimizer, from_arrays, B, T, K, lr, grad_clip);
}

namespace {

void check_vocab(const DataLoader& loader, int vocab_size) {
  const auto& tokens = loader.tokens();
  auto it = std::find_if(tokens.begin(), tokens.end(), [&](int id) { return id < 0 || id >= vocab_size; });
  GPT2_CHECK(it == tokens.end(), loader.name(), ": token ", it - tokens.begin(), " has id ",
             it == tokens.end() ? 0 : *it, ", outside the model's vocabulary of ", vocab_size);
}

std::string short_rate(double tokens_per_sec) {
  char buf[32];
  if (tokens_per_sec >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk tok/s", tokens_per_sec / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f tok/s", tokens_per_sec);
  }
  return buf;
}

}  // namespace

TrainResult train(TrainableModel& model, const TrainConfig& config, const StepCallback& on_step) {
  validate(config);
  const int B = config.batch_size, T = config.seq_len, K = config.grad_accum_steps;
  GPT2_CHECK(T <= model.max_seq_len(), "TrainConfig.seq_len ", T, " is longer than the model's context of ",
             model.max_seq_len());

  // The batches: token files through DataLoaders, or the sources the caller gives.
  std::optional<DataLoader> train_file_data, val_file_data;
  BatchSource* train_source = config.train_batches;
  BatchSource* val_source = config.val_batches;
  if (!train_source) {
    train_file_data.emplace(DataLoader::from_file(config.train_file, B, T, config.shuffle, config.seed));
    check_vocab(*train_file_data, model.vocab_size());
    train_source = &*train_file_data;
    if (!config.val_file.empty()) {
      val_file_data.emplace(DataLoader::from_file(config.val_file, B, T, /*shuffle=*/false, config.seed));
      check_vocab(*val_file_data, model.vocab_size());
      val_source = &*val_file_data;
    }
  }
  for (BatchSource* source : {train_source, val_source}) {
    GPT2_CHECK(!source || (source->B() == B && source->T() == T), source ? source->name() : "",
               ": batches of B=", source ? source->B() : 0, " T=", source ? source->T() : 0,
               ", the run trains on B=", B, " T=", T);
  }
  BatchSource& train_data = *train_source;

  AdamW optimizer(model.backend(), model.params().size(), decay_ranges(model.param_infos()),
                  AdamWConfig{config.beta1, config.beta2, config.eps, config.weight_decay});
  const LrSchedule schedule{config.lr, config.min_lr, config.warmup_steps, config.steps};

  // Resume: model, optimizer, data position and run time from the newest checkpoint.
  TrainResult result;
  double elapsed_before = 0.0;
  if (config.resume) {
    if (auto dir = latest_checkpoint(config.out_dir)) {
      TrainingState state = load_checkpoint(*dir, model, optimizer);
      GPT2_CHECK(state.batch_size == B && state.seq_len == T && state.grad_accum_steps == K &&
                     state.seed == config.seed,
                 dir->string(), ": the checkpoint was written with batch_size=", state.batch_size,
                 " seq_len=", state.seq_len, " grad_accum_steps=", state.grad_accum_steps,
                 " seed=", state.seed, "; resuming exactly needs the same values (got ", B, ", ", T, ", ", K,
                 ", ", config.seed, ")");
      GPT2_CHECK(state.step <= config.steps, dir->string(), ": the run has already completed ", state.step,
                 " steps, more than the ", config.steps, " it is asked for");
      train_data.set_state(state.train_loader);
      result.start_step = state.step;
      elapsed_before = state.elapsed_seconds;
      result.last_checkpoint = *dir;
    }
  }
  if (config.on_start) config.on_start();
  gpt2::create_directories(config.out_dir);
  MetricsLog metrics(config.out_dir / "metrics.csv", config.resume ? result.start_step : -1);

  // The clock: the run's time counts from its first start, across resumes.
  const Timer system_timer;
  const std::function<double()> clock =
      config.clock ? config.clock : std::function<double()>([&] { return system_timer.seconds(); });
  const double started = clock();
  auto elapsed = [&] { return elapsed_before + clock() - started; };
  const double budget = config.time_budget_seconds;
  auto out_of_time = [&] { return budget > 0 && elapsed() > budget; };

  ScopedStopHandler stop_handler;
  clear_stop_request();
  const int64_t todo = config.steps - result.start_step;
  ProgressBar bar = config.progress ? ProgressBar("train", todo, "step")
                                    : ProgressBar("train", todo, "step", false, stderr);
  int saved_step = result.last_checkpoint.empty() ? -1 : result.start_step;
  auto checkpoint = [&](int step) {
    if (step == saved_step) return;
    TrainingState state{step, train_data.state(), elapsed(), B, T, K, config.seed};
    result.last_checkpoint =
        save_checkpoint(config.out_dir, model, optimizer, state, config.keep_checkpoints);
    saved_step = step;
  };

  int step = result.start_step;
  double last_step_seconds = 0;  // how long the previous step took (0: none yet in this call)
  bool stop = false;
  while (step < config.steps) {
    // Would this step end past the budget? Then it is not started. (The first step of a call is,
    // unless the budget was used up before the call.)
    if (budget > 0 &&
        (last_step_seconds > 0 ? elapsed() + last_step_seconds > budget : elapsed_before >= budget)) {
      result.budget_reached = true;
      stop = true;
    }
    if (stop || stop_requested()) {
      checkpoint(step);
      break;
    }
    const double step_start = clock();
    const float lr = lr_at(schedule, step);
    const DataLoaderState data_before = train_data.state();
    auto next_micro_batch = [&](int k, int* inputs, int* targets) {
      train_data.next_batch(inputs, targets);
      model.set_forward_pass(config.seed, static_cast<uint64_t>(step) * K + k);  // dropout's masks
    };
    auto keep_going = [&] {
      if (out_of_time()) result.budget_reached = true;
      return !result.budget_reached && !stop_requested();
    };
    const StepOutcome outcome =
        train_step(model, optimizer, next_micro_batch, B, T, K, lr, config.grad_clip, keep_going);
    if (outcome.status == StepStatus::kAbandoned) {
      // Stopped part-way through its micro-batches: as if the step had never begun.
      train_data.set_state(data_before);
      stop = true;
      continue;
    }
    if (outcome.status == StepStatus::kNonFinite) {
      bar.finish();
      if (!metrics.rows().empty()) write_loss_plot(metrics.rows(), config.out_dir / "loss.svg", config.title);
      fail("step ", step + 1, ": the loss is ", outcome.loss, " and the gradient norm ", outcome.grad_norm,
           ": the training has diverged. The step was not applied and nothing was saved after it; ",
           result.last_checkpoint.empty()
               ? std::string("no checkpoint had been written yet")
               : cat("the last good checkpoint is ", result.last_checkpoint.string()),
           ". A lower learning rate (or a longer warmup, or gradient clipping) usually helps.");
    }
    ++step;

    StepMetrics m;
    m.step = step;
    m.train_loss = outcome.loss;
    m.val_loss = NAN;
    m.lr = lr;
    m.grad_norm = outcome.grad_norm;
    last_step_seconds = clock() - step_start;
    m.tokens_per_sec = last_step_seconds > 0 ? static_cast<double>(B) * T * K / last_step_seconds : 0.0;
    if (val_source && config.eval_interval > 0 &&
        (step % config.eval_interval == 0 || step == config.steps)) {
      m.val_loss = evaluate(model, *val_source, config.eval_steps);
    }
    m.elapsed_seconds = elapsed();
    metrics.append(m);
    result.history.push_back(m);
    if (on_step) on_step(m);

    char loss_text[64];
    std::snprintf(loss_text, sizeof loss_text, "loss %.4f", m.train_loss);
    std::string suffix = cat(loss_text, " | ", short_rate(m.tokens_per_sec));
    if (std::isfinite(m.val_loss)) {
      std::snprintf(loss_text, sizeof loss_text, " | val %.4f", m.val_loss);
      suffix += loss_text;
    }
    bar.update(step - result.start_step, suffix);

    if (step == config.steps || (config.checkpoint_interval > 0 && step % config.checkpoint_interval == 0))
      checkpoint(step);
  }
  result.interrupted = step < config.steps;
  clear_stop_request();
  bar.finish();
  result.final_step = step;
  if (!metrics.rows().empty()) write_loss_plot(metrics.rows(), config.out_dir / "loss.svg", config.title);
  return result;
}

}  // namespace gpt2
