/// @file sequence_classifier.h
/// @brief The classification head attached to a GPT-2 and run on its backend, and the classifier's
/// model directory (transformers' GPT2ForSequenceClassification layout).
///
/// classifier_head.h is the head's maths in plain loops. Here the same head trains with the model:
/// its weight (K, C) is a parameter attached to the model (GPT2::attach_parameters), so the model's
/// trainable range holds it, and every step is one of the backend's operations:
///
///   hidden = model.forward_hidden(tokens)          ln_f's output (B, T, C), no language-model head
///   pooled[b] = hidden[b, last[b]]                 one copy per row
///   logits = pooled score^T                        lm_head_forward with K "tokens": (B, K)
///   loss = mean cross-entropy over the labelled rows (cross_entropy_forward with V = K)
///
/// and backward the other way round, ending in model.backward_from_hidden(dhidden) with dhidden
/// zero except at each row's last position (when anything of the model trains: not for a head
/// trained alone).
///
/// **The directory.** A fine-tuned classifier is saved as transformers saves a
/// GPT2ForSequenceClassification, so that `from_pretrained` loads it:
///
///     config.json        chapter 05's keys, with "architectures": ["GPT2ForSequenceClassification"],
///                        "id2label": {"0": "BAPTISTA", ...}, "label2id": {...}, "pad_token_id"
///     model.safetensors  transformer.wte.weight ... transformer.ln_f.bias, score.weight (K, C)
///     vocab.json, merges.txt
///
/// chapter 05's GPT2::load reads the same directory as a language model (it skips score.weight).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/adamw.h"
#include "common/tensor.h"

namespace gpt2 {

class SequenceClassifier {
 public:
  /// Attaches a head with weight `score` (K, C) to `model` (C = n_embd) and uploads it.
  /// With `through_model`, backward() continues into the model (some of it trains).
  SequenceClassifier(GPT2& model, const Tensor& score, bool through_model);

  int num_labels() const { return K_; }
  /// Runs the model and the head on tokens (B, T), reading row b at position last[b]; with labels
  /// (B class ids, -1 for a row without one) also the loss: the mean cross-entropy over the rows
  /// with a label (it throws if no row has one). Returns the loss (-1 without labels).
  float forward(const int* tokens, const int* last, const int* labels, int B, int T);
  /// The class logits (B, K) of the last forward(), on the host.
  std::vector<float> logits() const;
  /// Adds the gradient of the last forward()'s loss times `loss_weight`: into the head's weight,
  /// and, with through_model, into the model's trainable parameters.
  void backward(float loss_weight = 1.0f);

  /// The head's weight as it is now, (K, C), downloaded.
  Tensor score() const;
  /// Its place in the model's attached parameters.
  int64_t offset() const { return offset_; }
  /// "score.weight" (K, C) at offset 0 of the head: for AdamW.
  ParamInfo param_info() const;

 private:
  GPT2& model_;
  Backend& backend_;
  int K_, C_;
  bool through_model_;
  int64_t offset_;
  int B_ = 0, T_ = 0, num_labeled_ = 0;
  std::vector<int> last_;
  BackendBuffer pooled_, logits_, losses_, lse_, labels_, dlogits_, dpooled_, dhidden_;
};

/// The class probabilities softmax(logits) of one row of K logits.
std::vector<float> class_probabilities(std::span<const float> logits);

/// What a classifier directory holds besides the model.
struct ClassifierHead {
  std::vector<std::string> labels;  ///< by class id
  Tensor score;                     ///< (K, C)
  int pad_token_id = -1;            ///< -1 when config.json has none
};

/// True if `dir`/config.json describes a sequence classifier (has id2label and architectures
/// GPT2ForSequenceClassification) and model.safetensors holds score.weight.
bool is_classifier_dir(const std::filesystem::path& dir);
/// Reads the head of a classifier directory for a model of shape `base`: score.weight must be
/// (K, n_embd), finite, and config.json's id2label must name classes 0 .. K - 1. Errors name the
/// file and the problem.
ClassifierHead read_classifier_head(const std::filesystem::path& dir, const GPT2Config& base);
/// Writes a complete classifier directory: the model's weights (with the transformer. prefix),
/// the head, config.json with the labels, and the tokenizer files of `tokenizer_dir` (if given).
/// `params` are the model's own (layout of `config`).
void write_classifier_dir(const std::filesystem::path& dir, const GPT2Config& config,
                          std::span<const float> params, const ClassifierHead& head,
                          const std::filesystem::path& tokenizer_dir = {});

}  // namespace gpt2
