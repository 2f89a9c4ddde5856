/// @file gpt2.h
/// @brief The whole GPT-2: embeddings, L pre-LN blocks, the final LayerNorm, the head tied to
/// the token embedding, the fused cross-entropy, and the full backward pass.
///
///     x0      = wte[tokens] + wpe[0:T]                               (B, T, C)   chapter 02
///     x_{l+1} = block_l(x_l)              for l = 0 .. L-1           (B, T, C)   chapter 04
///     logits  = ln_f(x_L) @ wte^T                                    (B, T, V)   lm_head.h
///     loss    = mean over positions with a target of
///               -log softmax(logits)[target]                                     cross_entropy.h
///
/// The model is wiring: it owns one parameter buffer and one gradient buffer of the same layout
/// (parameters.h), an activation arena sized from (B, T) (activations.h), and calls a Backend
/// (backend.h) for every operation, so the same code runs on the plain CPU loops, chapter 08's
/// fast kernels or chapter 09's GPU.
///
/// Usage:
/// @code
///   gpt2::CpuBackend cpu;
///   gpt2::GPT2 model(gpt2::GPT2Config::from_name("gpt2"), cpu);
///   model.init_random(1337);                 // or: auto model = gpt2::GPT2::load("models/gpt2", cpu);
///   float loss = model.forward(tokens, targets, B, T);  // tokens, targets: B*T ints
///   model.zero_grad();
///   model.backward();                        // model.grads() now holds dloss/dparams
/// @endcode
///
/// PyTorch equivalent: transformers' `GPT2LMHeadModel(config)` in training mode with dropout off,
/// `loss = model(tokens, labels=...)` (which shifts the labels itself; we take targets as given).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "chapters/05_gpt2_model/activations.h"
#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "common/tensor.h"

namespace gpt2 {

class GPT2 {
 public:
  /// A model with every parameter 0 (call init_random or load weights). Allocates the
  /// parameters and gradients; activations are allocated by the first forward().
  GPT2(const GPT2Config& config, Backend& backend);

  /// Reads a Hugging Face model directory (config.json + model.safetensors), see hf_checkpoint.h.
  static GPT2 load(const std::filesystem::path& dir, Backend& backend);
  /// Writes a complete model directory that transformers loads: model.safetensors (F32),
  /// config.json and, if `tokenizer_dir` is given, its vocab.json/merges.txt (or OpenAI's
  /// encoder.json/vocab.bpe, copied under the Hugging Face names).
  void save(const std::filesystem::path& dir, const std::filesystem::path& tokenizer_dir = {}) const;
  /// Reads the weights of a model directory into this model; its config.json must equal config().
  void read_weights(const std::filesystem::path& dir);

  /// GPT-2's initialisation, from `seed` (gpt2::Rng, so the same seed gives the same weights
  /// everywhere): matrices and embeddings normal(0, 0.02), the two residual projections of each
  /// block (attn.c_proj, mlp.c_proj) normal(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm gains 1.
  void init_random(uint64_t seed);

  /// Runs the model on tokens (B, T) (ids in [0, V), T <= n_positions). With targets (B, T),
  /// each in [0, V) or -1 for "no target", returns the mean cross-entropy over the positions that
  /// have one, and keeps what backward() needs; with targets == nullptr returns -1 (only logits).
  float forward(const int* tokens, const int* targets, int B, int T);
  /// Allocates the activation arena for batches of (B, T) now, and the backward scratch too if
  /// `training`, instead of on the first forward()/backward(): fails early when memory is short.
  void reserve(int B, int T, bool training = true);

  /// Sets every gradient to 0.
  void zero_grad();
  /// ADDS the gradient of the last forward()'s loss into grads() (call zero_grad() first unless
  /// you accumulate over micro-batches). Needs a forward() with targets.
  void backward();

  /// All parameters: one contiguous Tensor of num_parameters() floats, laid out as layout().
  Tensor& params() { return params_; }
  const Tensor& params() const { return params_; }
  /// Their gradients, same layout.
  Tensor& grads() { return grads_; }
  const Tensor& grads() const { return grads_; }
  /// A named view into params(), e.g. param("h.0.attn.c_attn.weight") of shape [C, 3C].
  Tensor param(std::string_view name) const { return layout_.view(params_, name); }
  /// The same view into grads().
  Tensor grad(std::string_view name) const { return layout_.view(grads_, name); }
  const ParameterLayout& layout() const { return layout_; }
  const GPT2Config& config() const { return config_; }
  int64_t num_parameters() const { return layout_.num_parameters(); }
  Backend& backend() const { return *backend_; }

  /// The logits (B, T, V) of the last forward(), on the host.
  std::span<const float> logits() const;
  /// The per-position losses (B, T) of the last forward() with targets (0 where ignored).
  std::span<const float> losses() const;
  /// The saved activations of the last forward() (pointers into the backend's memory; on the
  /// host for CpuBackend). For tests and for looking inside the model.
  const Activations& activations() const { return acts_; }
  /// B and T of the last forward() (0 before the first).
  int batch_size() const { return B_; }
  int seq_len() const { return T_; }

  /// What training at (B, T) costs in memory (see activations.h).
  MemoryReport memory_report(int B, int T) const { return gpt2::memory_report(config_, B, T); }

 private:
  GPT2(const GPT2Config& config, Backend& backend, Tensor params);
  void prepare_batch(int B, int T);
  void ensure_scratch();
  void upload_params();

  GPT2Config config_;
  Backend* backend_;
  ParameterLayout layout_;
  Tensor params_;  // [num_parameters] on the host
  Tensor grads_;   // [num_parameters] on the host

  // Where the backend computes. For a host-memory backend these point into params_/grads_;
  // otherwise into device copies.
  BackendBuffer device_params_, device_grads_;
  ModelParams<const float> w_;  // weights
  ModelParams<float> g_;        // gradients

  int B_ = 0, T_ = 0;
  BackendBuffer acts_buffer_, scratch_buffer_, tokens_buffer_, targets_buffer_;
  Activations acts_{};
  BackwardScratch scratch_{};
  bool have_targets_ = false;
  int num_targets_ = 0;

  // Host copies of logits and losses when the backend's memory is not the host's.
  mutable std::vector<float> host_logits_, host_losses_;
};

}  // namespace gpt2
