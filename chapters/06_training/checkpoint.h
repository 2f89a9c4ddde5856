/// @file checkpoint.h
/// @brief Training checkpoints: everything needed to continue a run exactly, written so that an
/// interrupted write never destroys the last good checkpoint.
///
/// A run directory holds its checkpoints like this:
///
///     out/checkpoints/step_00000200/   model files (config.json, model.safetensors for GPT-2)
///                                      optimizer.safetensors  AdamW's m, v and step
///                                      state.json             step, data position, RNG state, ...
///     out/checkpoints/latest           the text "step_00000200"
///
/// Writing a checkpoint: everything goes into `step_00000200.tmp/` (each file itself written via
/// a temporary file and a rename, state.json last); then the directory is renamed to
/// `step_00000200`, then `latest` is rewritten atomically, then checkpoints older than the newest
/// `keep` are deleted. A crash at any point leaves `latest` naming a complete checkpoint (or an
/// unfinished `.tmp` directory nobody reads). latest_checkpoint() also falls back to the newest
/// complete `step_*` directory if `latest` is missing or stale.
///
/// PyTorch: torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), ...}).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "adamw.h"
#include "data_loader.h"
#include "trainable.h"

namespace gpt2 {

/// What state.json holds besides the model and the optimizer.
struct TrainingState {
  int step = 0;                  ///< completed optimizer steps
  DataLoaderState train_loader;  ///< where the training data continues
  double elapsed_seconds = 0;    ///< run time so far
  // The batch geometry and seed the run used: resuming with others would not continue it exactly.
  int batch_size = 0;  ///< B
  int seq_len = 0;     ///< T
  /// Micro-batches per optimizer step, over all ranks: K in one process, N·K for N ranks of K
  /// each (chapter 11), which train the same; so a run may resume with another split of its
  /// global batch into ranks and micro-batches, but not with another global batch.
  int grad_accum_steps = 0;
  uint64_t seed = 0;  ///< data-order seed
};

/// state.json's text for a state.
std::string training_state_to_json(const TrainingState& state);
/// Parses state.json's text; throws gpt2::Error naming `name` and the missing or bad field.
TrainingState training_state_from_json(const std::string& text, const std::string& name);

/// Writes a checkpoint of `state.step` under out_dir/checkpoints (see the file comment), keeps the
/// newest `keep` checkpoints (keep >= 1) and returns the checkpoint's directory.
std::filesystem::path save_checkpoint(const std::filesystem::path& out_dir, const TrainableModel& model,
                                      const AdamW& optimizer, const TrainingState& state, int keep = 2);
/// The same with the optimizer's state given on the host (chapter 11 gathers it from the ranks
/// that each hold a part).
std::filesystem::path save_checkpoint(const std::filesystem::path& out_dir, const TrainableModel& model,
                                      const AdamWState& optimizer, const TrainingState& state, int keep = 2);

/// Where save_checkpoint puts the checkpoint of `step`: out_dir/checkpoints/step_00000200.
std::filesystem::path checkpoint_dir(const std::filesystem::path& out_dir, int step);

/// The newest complete checkpoint directory under out_dir/checkpoints, if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& out_dir);

/// Loads a checkpoint directory into the model and the optimizer; returns state.json's contents.
TrainingState load_checkpoint(const std::filesystem::path& checkpoint_dir, TrainableModel& model,
                              AdamW& optimizer);
/// The same with the optimizer's state read into host memory (n = model.params().size() floats
/// per moment).
TrainingState load_checkpoint(const std::filesystem::path& checkpoint_dir, TrainableModel& model,
                              AdamWState& optimizer);

}  // namespace gpt2
