/// @file gpt2.h
/// @brief The whole GPT-2: embeddings, L pre-LN blocks, the final LayerNorm, the head tied to
/// the token embedding, the fused cross-entropy, and the full backward pass.
///
///     x0      = wte[tokens] + wpe[pos0 : pos0 + T]                   (B, T, C)   chapter 02
///     x_{l+1} = block_l(x_l)              for l = 0 .. L-1           (B, T, C)   chapter 04
///     logits  = ln_f(x_L) @ wte^T                                    (B, T, V)   lm_head.h
///     loss    = mean over positions with a target of
///               -log softmax(logits)[target]                                     cross_entropy.h
///
/// The model is wiring: it owns one parameter buffer and (in training mode) one gradient buffer
/// of the same layout (parameters.h) and an activation arena (activations.h), all allocated by a
/// Backend (backend.h), and calls the backend for every operation, so the same code runs on the
/// plain CPU loops, chapter 08's fast kernels or chapter 09's GPU. The numbers stay on the
/// backend: the parameters are uploaded once (load, init_random, set_params) and downloaded only
/// to be saved or looked at (params_to_host, param).
///
/// ONE block loop serves every use: a forward pass runs B sequences of T new positions starting
/// at position pos0. Training and evaluation run whole sequences (pos0 = 0) and keep what the
/// backward pass needs; generation passes a KVCache (kv_cache.h, chapter 07): the prompt is one
/// forward over its T tokens (the "prefill"), each new token one forward with T = 1 at position
/// cache.size(), and the attention reads the earlier positions' keys and values from the cache
/// (Backend::attention_forward_cached) instead of recomputing them.
///
/// Usage:
/// @code
///   gpt2::CpuBackend cpu;
///   gpt2::GPT2 model(gpt2::GPT2Config::from_name("gpt2"), cpu);
///   model.init_random(1337);                 // or: auto model = gpt2::GPT2::load("models/gpt2", cpu);
///   model.set_mode(gpt2::GPT2::Mode::training);         // allocates the gradients
///   float loss = model.forward(tokens, targets, B, T);  // tokens, targets: B*T ints
///   model.zero_grad();
///   model.backward();                        // model.grads() now holds dloss/dparams
///
///   gpt2::KVCache cache(model.config(), cpu);          // generation: one sequence
///   auto logits = model.forward(cache, prompt, 1, n);  // (1, V): the last position's logits
///   logits = model.forward(cache, &next, 1, 1);        // one more token
/// @endcode
///
/// Dropout (dropout.h): in training mode, with the probabilities of config().dropout, the model
/// drops where GPT-2 does: after the embedding, on the attention weights, and on the output of
/// each block's two projections before the residual adds. Each forward pass draws its masks from
/// (seed, pass number, site), set by set_dropout_pass(); every other mode, and a probability of
/// 0, computes exactly as without dropout.
///
/// Fine-tuning (chapter 10) uses three more things: layers attached to the model whose parameters
/// live after the model's own in the same buffer (attach_parameters(): a classification head,
/// LoRA adapters), a hook on the four linear layers of every block (set_linear_adapter()), and a
/// choice of which parameters train (set_trainable_from(): all, the last blocks, or only the
/// attached ones). Gradients, and so the optimizer's moments, exist only for what trains: one
/// contiguous range, trainable_params(), with grads() beside it.
///
/// PyTorch equivalent: transformers' `GPT2LMHeadModel(config)` (model.train() in training mode),
/// `loss = model(tokens, labels=...)` (which shifts the labels itself; we take targets as given),
/// and `model(next, past_key_values=cache, use_cache=True)` for generation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "chapters/05_gpt2_model/activations.h"
#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/grads_ready.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/05_gpt2_model/linear_adapter.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "common/tensor.h"

namespace gpt2 {

class GPT2 {
 public:
  /// What forward() keeps, and whether the model has gradients.
  enum class Mode {
    inference,  ///< the default: no gradients; a forward pass reuses one block's buffers for every block
    inspect,    ///< no gradients; a forward pass keeps every block's activations (to look inside)
    training,   ///< gradients allocated; a forward pass keeps every block's activations for backward()
  };

  /// A model with every parameter 0 (call init_random or load weights), in inference mode.
  /// Allocates the parameters on `backend`, which must outlive the model; activations are
  /// allocated by the first forward().
  GPT2(const GPT2Config& config, Backend& backend);

  /// Reads a Hugging Face model directory (config.json + model.safetensors, see hf_checkpoint.h)
  /// and uploads the weights to `backend`.
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

  /// The dropout probabilities of training (config().dropout; a model loads them from its
  /// config.json, and save() writes them). Throws for a probability outside [0, 1).
  void set_dropout(const DropoutConfig& dropout);
  /// The masks of the next training forward pass come from (seed, pass) (dropout.h's
  /// dropout_key); each training forward pass after it counts the pass up by one. A training loop
  /// sets the pass from its step, so that a resumed run draws the masks the uninterrupted run
  /// would have drawn. The default is seed 0, pass 0.
  void set_dropout_pass(uint64_t seed, uint64_t pass);

  /// Switches the mode (see Mode). Entering training mode allocates the gradients (zeroed) once;
  /// leaving it keeps them, so evaluation between training steps costs no reallocation.
  void set_mode(Mode mode);
  Mode mode() const { return mode_; }

  // ----- forward -------------------------------------------------------------------------------
  /// Training and evaluation: runs tokens (B, T) at positions 0 .. T - 1 (ids in [0, V),
  /// T <= n_positions). With targets (B, T), each in [0, V) or -1 for "no target", returns the
  /// mean cross-entropy over the positions that have one (and, in training mode, keeps what
  /// backward() needs); with targets == nullptr returns -1 (only logits).
  float forward(const int* tokens, const int* targets, int B, int T);
  /// The same up to the final LayerNorm, without the language-model head: ln_f's output for
  /// every position is activations().lnf (B, T, C), what a classification head reads (chapter
  /// 10). Keeps what backward_from_hidden() needs in training mode.
  void forward_hidden(const int* tokens, int B, int T);
  /// Generation: runs tokens (B, T) at positions cache.size() .. cache.size() + T - 1 of the
  /// cache's B sequences, attending over the cached positions and appending the new ones.
  /// Returns, on the host, the logits of the last new position of each sequence (B, V), or with
  /// `all_logits` those of every new position (B, T, V); valid until the next forward. Throws
  /// gpt2::Error (and leaves the cache as it was) if B is not cache.batch(), a token is outside
  /// [0, V), or the positions would pass cache.capacity().
  std::span<const float> forward(KVCache& cache, const int* tokens, int B, int T, bool all_logits = false);
  /// Allocates the activation arena for forward(tokens, targets, B, T) in the current mode now
  /// (and the backward scratch in training mode), instead of on the first forward()/backward():
  /// fails early when memory is short.
  void reserve(int B, int T);
  /// The same for forward(cache, tokens, cache.batch(), T) (a prefill of T tokens).
  void reserve(const KVCache& cache, int T);

  // ----- backward (training mode) -------------------------------------------------------------
  /// Sets every gradient to 0.
  void zero_grad();
  /// ADDS the gradient of the last forward()'s loss, multiplied by `loss_weight`, into grads()
  /// (call zero_grad() first unless you accumulate over micro-batches, which chapter 06 weighs by
  /// their numbers of targets). Needs a forward() with targets, in training mode.
  void backward(float loss_weight = 1.0f);
  /// ADDS the gradients of another loss into grads(), given its gradient with respect to the
  /// final hidden state (ln_f's output, activations().lnf): dhidden (B, T, C) in the backend's
  /// memory, for the B, T of the last forward() in training mode (with or without targets).
  /// backward() is this with the gradient that flows back through the tied head; a
  /// classification head (chapter 10) computes its own.
  void backward_from_hidden(const float* dhidden);
  /// Called during every backward pass each time more of the gradient buffer is final
  /// (grads_ready.h): `first_ready`, the offset (in floats) from which every gradient to the end
  /// of grads() holds its final value for this backward pass. Backward runs from the loss to the
  /// input, and the buffer's layout puts the input side first (parameters.h), so the tail grows
  /// towards the start: first_ready is ln_f.weight's offset after the head and ln_f,
  /// h.l.ln_1.weight's after block l, and 0 after the embeddings. wte, at the start of the buffer,
  /// gets the head's gradient first and the embedding's last, but the embedding adds only to the
  /// rows of the input tokens: every report before the last also names wte as the table that is
  /// final except those rows. Frozen tensors report nothing (set_trainable_from: the offsets are
  /// into grads(), which holds only what trains), and with attached layers (their gradients, at
  /// the end of the buffer, are final only when the whole backward is) only 0 is reported.
  /// Chapter 11 starts sending these gradients to the other ranks while backward computes the
  /// earlier layers. On a device backend the callback runs when the work is queued, not done:
  /// whatever reads the gradients must queue behind it on the backend's stream. An empty function
  /// (the default) turns it off.
  void set_grad_ready_callback(std::function<void(const GradsReady&)> callback);

  // ----- fine-tuning: attached layers, an adapter hook, what trains (chapter 10) ----------------
  /// Room for `n` parameters of a layer attached to the model (a classification head, LoRA
  /// adapters), zeroed, after the model's own and the earlier attached ones in the same buffer, so
  /// that everything that trains can be one contiguous range. Returns their offset in
  /// attached_params(). The buffer moves: pointers into it taken before are no longer valid.
  int64_t attach_parameters(int64_t n);
  /// The attached parameters (all of them, in the order attached) and their gradients (empty
  /// until training mode allocates them), in the backend's memory.
  std::span<float> attached_params();
  std::span<float> attached_grads();
  /// Calls `adapter` at the four linear layers of every block it adapts (linear_adapter.h), in
  /// every mode; nullptr removes it. The adapter must outlive its use.
  void set_linear_adapter(LinearAdapter* adapter);
  /// Which parameters train: the model's own from offset `first` on, and every attached one.
  /// `first` is 0 (everything: the default), the offset of a block's first parameter
  /// (layout().find("h.K.ln_1.weight").offset: blocks K .. L - 1 and ln_f), ln_f's (ln_f alone)
  /// or num_parameters() (only the attached layers). The frozen parameters get no gradients (no
  /// memory is spent on them), and the backward pass stops below the lowest block that trains
  /// or is adapted. Reallocates the gradients (zeroed) if they exist.
  void set_trainable_from(int64_t first);
  int64_t trainable_from() const { return train_from_; }
  /// What trains: params()[trainable_from():] followed by every attached parameter. grads() are
  /// their gradients, element for element.
  std::span<float> trainable_params();

  // ----- the numbers (in the backend's memory) ------------------------------------------------
  /// All parameters: num_parameters() floats laid out as layout(), in the backend's memory (on a
  /// device backend, device memory: pass it to the backend's operations, read it with
  /// params_to_host()).
  std::span<float> params() { return {params_.floats(), n_params()}; }
  std::span<const float> params() const { return {params_.floats(), n_params()}; }
  /// The gradients of trainable_params() (by default every parameter: the same layout as
  /// params()), in the same memory; empty until training mode allocates them.
  std::span<float> grads() { return {grads_.floats(), grads_.bytes() ? n_trainable() : 0}; }
  std::span<const float> grads() const { return {grads_.floats(), grads_.bytes() ? n_trainable() : 0}; }
  /// Host copies: all parameters, the gradients of grads(), or one named tensor (e.g.
  /// param("h.0.attn.c_attn.weight"), of shape [C, 3C]; grad() of a frozen one is an error).
  Tensor params_to_host() const;
  Tensor grads_to_host() const;
  Tensor param(std::string_view name) const;
  Tensor grad(std::string_view name) const;
  /// Replaces every parameter with `values` (num_parameters() floats on the host), uploaded.
  void set_params(std::span<const float> values);

  const ParameterLayout& layout() const { return layout_; }
  const GPT2Config& config() const { return config_; }
  int64_t num_parameters() const { return layout_.num_parameters(); }
  Backend& backend() const { return *backend_; }

  /// The logits of the last forward(), on the host: (B, T, V), or (B, V) after a generation
  /// forward without all_logits.
  std::span<const float> logits() const;
  /// The per-position losses (B, T) of the last forward() with targets (0 where ignored), on the host.
  std::span<const float> losses() const;
  /// The activations of the last forward() (pointers into the backend's memory). In inference
  /// mode every block's entry points at the same buffers (the last block's values); in inspect
  /// and training mode each block has its own: its attention weights `att` (B, NH, T, T), its
  /// output `out` (B, T, C), ... For tests and for looking inside the model.
  const Activations& activations() const { return acts_; }
  /// B and T of the last forward() (0 before the first).
  int batch_size() const { return B_; }
  int seq_len() const { return T_; }

  /// What training and generation at (B, T) cost in memory (see activations.h).
  MemoryReport memory_report(int B, int T) const { return gpt2::memory_report(config_, B, T); }

 private:
  size_t n_params() const { return static_cast<size_t>(layout_.num_parameters()); }
  // Trainable floats: the model's own from train_from_ on, and the attached ones.
  size_t n_trainable() const { return n_params() - static_cast<size_t>(train_from_) + n_attached_; }
  void allocate_grads();
  // The one forward pass: B sequences of T positions starting at `pos0`, with or without a cache.
  float run_forward(const int* tokens, const int* targets, int B, int T, KVCache* cache, bool all_logits,
                    bool head = true);
  // out (N, OC) = inp (N, C) W + b of block l's linear layer `which`, and the adapter's term.
  void linear(int l, BlockLinear which, float* out, const float* inp, const float* w, const float* b, int N,
              int C, int OC);
  // Its backward: dinp += dout W^T (if dinp), dW, db += ... (if not frozen), and the adapter's.
  void linear_backward(int l, BlockLinear which, float* dinp, float* dw, float* db, const float* dout,
                       const float* inp, const float* w, int N, int C, int OC);
  // The lowest block whose backward must run: the lowest that trains or is adapted (0 when the
  // embeddings train; n_layer when no block does).
  int lowest_backward_block() const;
  void prepare(const ActivationPlan& plan);
  void ensure_scratch();
  void bind_weights();
  // Tells the grad-ready callback that every gradient from `first` (in grads_) on is final.
  void grads_ready_from(const float* first);
  // Dropout of the last forward pass at `site` (dropout.h): its key, and d(input of the dropout)
  // from d(its output) in the backward scratch (or `d` itself when that site has p = 0).
  uint64_t dropout_site_key(uint64_t site) const;
  const float* undo_dropout(const float* d, float p, uint64_t site, size_t n);

  GPT2Config config_;
  Backend* backend_;
  ParameterLayout layout_;
  Mode mode_ = Mode::inference;

  // The numbers, in the backend's memory, and named views of them. params_ holds the model's
  // n_params() parameters and then n_attached_ attached ones; grads_ the n_trainable() gradients.
  BackendBuffer params_, grads_;
  size_t n_attached_ = 0;
  int64_t train_from_ = 0;
  LinearAdapter* adapter_ = nullptr;
  ModelParams<const float> w_;  // weights
  ModelParams<float> g_;        // gradients (null pointers until training mode)

  // The last forward pass and its arena (which only grows: generation alternates between a
  // prefill and one-token steps without reallocating).
  int B_ = 0, T_ = 0;
  ActivationPlan plan_;
  BackendBuffer acts_buffer_, scratch_buffer_, tokens_buffer_, targets_buffer_;
  Activations acts_{};
  BackwardScratch scratch_{};
  int scratch_B_ = 0, scratch_T_ = 0;
  std::function<void(const GradsReady&)> grad_ready_;  // set_grad_ready_callback
  bool scratch_dropout_ = false;                       // the scratch has the buffer of dropout's gradient
  bool have_targets_ = false;
  // Dropout: the next training pass's seed and number, and the last pass's probabilities (all 0
  // when it did not drop) and number: the backward recomputes its masks.
  uint64_t dropout_seed_ = 0, dropout_pass_ = 0, last_pass_ = 0;
  DropoutConfig last_drop_;
  bool backward_ready_ = false;  // the last forward kept every block's activations (training mode)
  int num_targets_ = 0;

  // Host copies of logits and losses when the backend's memory is not the host's.
  mutable std::vector<float> host_logits_, host_losses_;
};

}  // namespace gpt2
