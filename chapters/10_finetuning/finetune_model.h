/// @file finetune_model.h
/// @brief A GPT-2 being fine-tuned, as chapter 06's train() sees it: the task (a classifier, or
/// instruction following), what trains (everything, the last blocks, the head, or LoRA), the loss,
/// and the files a run writes.
///
/// | trains         | the model's own parameters                 | attached and trained         |
/// |----------------|--------------------------------------------|------------------------------|
/// | `everything`   | all                                        | the head (classify)          |
/// | `last_blocks`  | blocks L - N .. L - 1 and ln_f             | the head (classify)          |
/// | `head`         | none (classify only)                       | the head                     |
/// | `lora`         | none                                       | LoRA's factors, the head     |
///
/// What trains is one contiguous range of the model's buffer (GPT2::trainable_params): the
/// optimizer, the gradient norm and the checkpoints see nothing else, and the frozen weights have
/// no gradients and no moments. The classifier's batches carry each text's label as the target of
/// its last position (finetune_batches.h); an SFT batch's targets are the assistant's tokens, so
/// its loss is chapter 05's own, the mean over those targets.
///
/// A checkpoint holds the trainable range as named tensors (`trainable.safetensors`), exactly;
/// the results of a run are written by write_model_dir() (a complete model or classifier
/// directory, LoRA merged into it) and write_adapter_dir() (LoRA in PEFT's layout).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/10_finetuning/lora_model.h"
#include "chapters/10_finetuning/sequence_classifier.h"

namespace gpt2 {

enum class FinetuneTask { classify, sft };
enum class FinetuneTrains { everything, last_blocks, head, lora };

/// How to fine-tune.
struct FinetuneSetup {
  FinetuneTask task = FinetuneTask::sft;
  FinetuneTrains trains = FinetuneTrains::everything;
  int last_blocks = 1;              ///< N, for last_blocks: 1 .. n_layer
  LoraConfig lora;                  ///< for lora: rank, alpha, targets (its task_type is set here)
  std::vector<std::string> labels;  ///< the classes (classify), by class id
  int pad_token_id = -1;            ///< the padding token, saved with a classifier
  uint64_t init_seed = 1337;        ///< the head's and the adapter's initialisation
};

/// "everything", "last 2 blocks", "head", "LoRA r=8 on c_attn".
std::string describe(const FinetuneSetup& setup);

class FinetuneModel : public Gpt2Trainable {
 public:
  /// Prepares `model` (the base, its own dropout as it is) for `setup`: attaches the head and the
  /// adapters, chooses what trains, switches to training mode. `model` must outlive this.
  FinetuneModel(GPT2& model, const FinetuneSetup& setup);

  // What differs from chapter 06's Gpt2Trainable: the head's loss and backward, the attached
  // layers' parameters, and what a checkpoint holds. The rest (zero_grad, params() and grads() —
  // the model's buffer, which holds the attached layers after its own trainable part —, dropout's
  // pass, the grad-ready reports, training mode) is the base's: with attached layers (a head,
  // LoRA) the model reports only the end of its backward.
  float forward(const int* inputs, const int* targets, int B, int T) override;
  void backward() override { backward_weighted(1.0f); }
  void backward_weighted(float weight) override;
  std::vector<ParamInfo> param_infos() const override;
  /// Writes / reads `dir`/trainable.safetensors: every trainable tensor by name.
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;

  /// The class logits (B, K) of tokens (B, T), row b read at last[b], in evaluation mode (no dropout).
  std::vector<float> classify(const int* tokens, const int* last, int B, int T);
  /// The results: a complete model directory (SFT: a language model; classify: a classifier with
  /// its labels), LoRA merged into the weights, with the tokenizer of `tokenizer_dir`.
  void write_model_dir(const std::filesystem::path& dir, const std::filesystem::path& tokenizer_dir) const;
  /// LoRA only: the adapter in PEFT's layout (a classifier's with its head as PEFT saves it, and
  /// labels.json with the class names).
  void write_adapter_dir(const std::filesystem::path& dir) const;

  const FinetuneSetup& setup() const { return setup_; }
  GPT2& model() { return model_; }
  /// The number of trainable parameters (the range's length).
  int64_t num_trainable() const { return static_cast<int64_t>(model_.trainable_params().size()); }

 private:
  FinetuneSetup setup_;
  std::unique_ptr<LoraModel> lora_;
  std::unique_ptr<SequenceClassifier> head_;
  std::vector<int> last_, labels_;  // the classifier's rows of the last forward
};

/// The class names a LoRA classifier's adapter directory keeps beside PEFT's files.
inline constexpr const char* kAdapterLabelsFile = "labels.json";
/// Reads `dir`/labels.json (a JSON list of non-empty strings), or returns {} if there is none.
std::vector<std::string> read_adapter_labels(const std::filesystem::path& dir);

}  // namespace gpt2
