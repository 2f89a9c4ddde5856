// A GPT-2 being fine-tuned, for chapter 06's train(): see finetune_model.h.
#include "chapters/10_finetuning/finetune_model.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/10_finetuning/classifier_head.h"
#include "chapters/10_finetuning/finetune_batches.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/json_fields.h"
#include "common/json_message.h"
#include "common/safetensors.h"

namespace gpt2 {

std::string describe(const FinetuneSetup& s) {
  switch (s.trains) {
    case FinetuneTrains::everything:
      return "everything";
    case FinetuneTrains::last_blocks:
      return cat("the last ", s.last_blocks, s.last_blocks == 1 ? " block" : " blocks");
    case FinetuneTrains::head:
      return "the head only";
    case FinetuneTrains::lora: {
      std::string targets;
      for (const std::string& t : s.lora.target_modules) targets += (targets.empty() ? "" : ",") + t;
      return cat("LoRA r=", s.lora.r, " alpha=", s.lora.lora_alpha, " on ", targets);
    }
  }
  return "?";
}

FinetuneModel::FinetuneModel(GPT2& model, const FinetuneSetup& setup) : Gpt2Trainable(model), setup_(setup) {
  const GPT2Config& c = model.config();
  const bool classify = setup.task == FinetuneTask::classify;
  GPT2_CHECK(!classify || setup.labels.size() >= 2, "a classifier needs at least 2 labels, got ",
             setup.labels.size());
  GPT2_CHECK(classify || setup.trains != FinetuneTrains::head,
             "--head-only trains a classification head, and instruction fine-tuning has none (train the last "
             "blocks or LoRA instead)");
  // What the model itself trains: from this offset of its buffer on (frozen before it).
  int64_t first = 0;
  if (setup.trains == FinetuneTrains::last_blocks) {
    GPT2_CHECK(setup.last_blocks >= 1 && setup.last_blocks <= c.n_layer, "--train-last: the model has ",
               c.n_layer, " blocks, got ", setup.last_blocks);
    first = model.layout().find(cat("h.", c.n_layer - setup.last_blocks, ".ln_1.weight")).offset;
  } else if (setup.trains != FinetuneTrains::everything) {
    first = model.num_parameters();
  }
  if (setup.trains == FinetuneTrains::lora) {
    // The adapter's layers (the head, if any, is the classifier's below): A as PEFT draws it, B = 0.
    LoraConfig lc = setup.lora;
    lc.task_type = "CAUSAL_LM";
    lc.modules_to_save.clear();
    lora_ = std::make_unique<LoraModel>(model, LoraAdapter::create(lc, c, setup.init_seed));
  }
  if (classify) {
    const int K = static_cast<int>(setup.labels.size());
    Tensor score({K, c.n_embd});
    classifier_head_init(score.data(), K, c.n_embd, setup.init_seed + 1);
    head_ = std::make_unique<SequenceClassifier>(model, score, setup.trains != FinetuneTrains::head);
  }
  model.set_trainable_from(first);
  model.set_mode(GPT2::Mode::training);
}

float FinetuneModel::forward(const int* inputs, const int* targets, int B, int T) {
  if (!head_) return model_.forward(inputs, targets, B, T);  // SFT: the loss on the assistant's tokens
  last_.resize(static_cast<size_t>(B));
  labels_.resize(static_cast<size_t>(B));
  classification_rows(targets, B, T, last_.data(), labels_.data());
  return head_->forward(inputs, last_.data(), labels_.data(), B, T);
}

void FinetuneModel::backward_weighted(float weight) {
  if (head_) {
    head_->backward(weight);
  } else {
    model_.backward(weight);
  }
}

std::vector<ParamInfo> FinetuneModel::param_infos() const {
  std::vector<ParamInfo> infos = trainable_param_infos(model_);
  // The attached layers follow the model's own trainable parameters.
  const size_t attached = static_cast<size_t>(model_.num_parameters() - model_.trainable_from());
  if (lora_) {
    for (ParamInfo p : lora_->param_infos()) {
      p.offset += attached + static_cast<size_t>(lora_->offset());
      infos.push_back(p);
    }
  }
  if (head_) {
    ParamInfo p = head_->param_info();
    p.offset += attached + static_cast<size_t>(head_->offset());
    infos.push_back(p);
  }
  std::sort(infos.begin(), infos.end(),
            [](const ParamInfo& a, const ParamInfo& b) { return a.offset < b.offset; });
  return infos;
}

void FinetuneModel::save(const std::filesystem::path& dir) const {
  GPT2& model = model_;
  const std::span<float> range = model.trainable_params();
  const std::vector<float> host = to_host(model.backend(), range.data(), range.size());
  SafetensorsWriter w;
  for (const ParamInfo& p : param_infos())
    w.add(p.name, p.shape,
          std::span<const float>(host).subspan(p.offset, static_cast<size_t>(shape_numel(p.shape))));
  w.set_metadata("trains", describe(setup_));
  gpt2::create_directories(dir);
  w.write(dir / "trainable.safetensors");
}

void FinetuneModel::load(const std::filesystem::path& dir) {
  const std::span<float> range = model_.trainable_params();
  std::vector<float> host(range.size());
  const SafetensorsFile f = SafetensorsFile::open(dir / "trainable.safetensors");
  for (const ParamInfo& p : param_infos()) {
    GPT2_CHECK(f.contains(p.name), f.file_name(), ": no tensor '", p.name, "': the checkpoint trained ",
               f.metadata().count("trains") ? f.metadata().at("trains") : std::string("something else"),
               ", this run trains ", describe(setup_));
    f.read_into(p.name, p.shape,
                std::span<float>(host).subspan(p.offset, static_cast<size_t>(shape_numel(p.shape))));
  }
  model_.backend().copy_to_device(range.data(), host.data(), host.size() * sizeof(float));
}

std::vector<float> FinetuneModel::classify(const int* tokens, const int* last, int B, int T) {
  GPT2_CHECK(head_, "classify: the model has no classification head (--task classify)");
  const GPT2::Mode mode = model_.mode();
  model_.set_mode(GPT2::Mode::inference);  // no dropout
  head_->forward(tokens, last, nullptr, B, T);
  std::vector<float> logits = head_->logits();
  model_.set_mode(mode);
  return logits;
}

void FinetuneModel::write_model_dir(const std::filesystem::path& dir,
                                    const std::filesystem::path& tokenizer_dir) const {
  Tensor params = model_.params_to_host();
  if (lora_) merge_lora_adapter(lora_->to_adapter(), model_.layout(), params.span());
  if (!head_) {
    write_hf_model_dir(dir, model_.config(), params.span(), tokenizer_dir);
    return;
  }
  write_classifier_dir(dir, model_.config(), params.span(),
                       {setup_.labels, head_->score(), setup_.pad_token_id}, tokenizer_dir);
}

void FinetuneModel::write_adapter_dir(const std::filesystem::path& dir) const {
  GPT2_CHECK(lora_, "write_adapter_dir: this run trains no LoRA adapter");
  LoraAdapter a = lora_->to_adapter();
  if (head_) {
    // As PEFT saves a sequence classifier's adapter: task SEQ_CLS, the head beside the factors.
    a.config.task_type = "SEQ_CLS";
    a.config.modules_to_save = {"classifier", "score"};
    a.score = head_->score();
  }
  write_lora_adapter(dir, a);
  if (head_) write_file_atomic(dir / kAdapterLabelsFile, nlohmann::json(setup_.labels).dump() + "\n");
}

std::vector<std::string> read_adapter_labels(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kAdapterLabelsFile;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  const nlohmann::json j = parse_json(read_file(path), path.string());
  GPT2_CHECK(j.is_array(), path.string(), ": expected a list of class names, got ", json_for_message(j));
  std::vector<std::string> labels;
  for (const nlohmann::json& v : j) {
    GPT2_CHECK(v.is_string() && !v.get<std::string>().empty(), path.string(),
               ": every class name must be a non-empty string, got ", json_for_message(v));
    labels.push_back(v.get<std::string>());
  }
  return labels;
}

}  // namespace gpt2
