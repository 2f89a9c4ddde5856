// The classification head on the model's backend, and the classifier directory: see
// sequence_classifier.h.
#include "chapters/10_finetuning/sequence_classifier.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/json_fields.h"
#include "common/json_message.h"
#include "common/safetensors.h"

namespace gpt2 {

namespace {
void ensure(BackendBuffer& buffer, Backend& backend, size_t bytes) {
  if (buffer.bytes() < bytes) {
    buffer = BackendBuffer();
    buffer = BackendBuffer(backend, bytes);
  }
}
}  // namespace

SequenceClassifier::SequenceClassifier(GPT2& model, const Tensor& score, bool through_model)
    : model_(model), backend_(model.backend()), through_model_(through_model) {
  GPT2_CHECK(score.dim() == 2 && score.shape()[0] >= 1 && score.shape()[1] == model.config().n_embd,
             "classification head: score.weight has shape ", shape_to_string(score.shape()),
             ", expected [K, ", model.config().n_embd, "] (n_embd of the model)");
  K_ = static_cast<int>(score.shape()[0]);
  C_ = static_cast<int>(score.shape()[1]);
  offset_ = model.attach_parameters(score.numel());
  backend_.copy_to_device(model.attached_params().data() + offset_, score.data(),
                          static_cast<size_t>(score.numel()) * sizeof(float));
}

float SequenceClassifier::forward(const int* tokens, const int* last, const int* labels, int B, int T) {
  for (int b = 0; b < B; ++b)
    GPT2_CHECK(last[b] >= 0 && last[b] < T, "classifier: row ", b, " ends at position ", last[b],
               ", outside [0, ", T, ")");
  model_.forward_hidden(tokens, B, T);
  B_ = B;
  T_ = T;
  last_.assign(last, last + B);
  const size_t C = static_cast<size_t>(C_);
  ensure(pooled_, backend_, static_cast<size_t>(B) * C * sizeof(float));
  ensure(logits_, backend_, static_cast<size_t>(B) * K_ * sizeof(float));
  // pooled[b] = hidden[b, last[b]]: the only position that has seen the whole text.
  const float* hidden = model_.activations().lnf;
  for (int b = 0; b < B; ++b)
    backend_.copy(pooled_.floats() + b * C, hidden + (static_cast<size_t>(b) * T + last[b]) * C,
                  C * sizeof(float));
  const float* weight = model_.attached_params().data() + offset_;
  backend_.lm_head_forward(logits_.floats(), pooled_.floats(), weight, B, C_, K_);
  num_labeled_ = 0;
  if (!labels) return -1.0f;
  for (int b = 0; b < B; ++b) {
    GPT2_CHECK(labels[b] >= -1 && labels[b] < K_, "classifier: label ", labels[b], " of row ", b,
               " is not a class id in [0, ", K_, ") nor -1");
    num_labeled_ += labels[b] >= 0;
  }
  GPT2_CHECK(num_labeled_ > 0, "classifier: no row of the batch has a label");
  ensure(labels_, backend_, static_cast<size_t>(B) * sizeof(int));
  ensure(losses_, backend_, static_cast<size_t>(B) * sizeof(float));
  ensure(lse_, backend_, static_cast<size_t>(B) * sizeof(float));
  backend_.copy_to_device(labels_.ints(), labels, static_cast<size_t>(B) * sizeof(int));
  backend_.cross_entropy_forward(losses_.floats(), lse_.floats(), logits_.floats(), labels_.ints(), B, K_);
  return static_cast<float>(backend_.sum(losses_.floats(), static_cast<size_t>(B)) / num_labeled_);
}

std::vector<float> SequenceClassifier::logits() const {
  GPT2_CHECK(B_ > 0, "classifier: logits() before forward()");
  return to_host(backend_, logits_.floats(), static_cast<size_t>(B_) * K_);
}

void SequenceClassifier::backward(float loss_weight) {
  GPT2_CHECK(num_labeled_ > 0, "classifier: backward() needs a forward() with labels");
  std::span<float> grads = model_.attached_grads();
  GPT2_CHECK(!grads.empty(), "classifier: backward() needs the model in training mode");
  const int B = B_, T = T_;
  const size_t C = static_cast<size_t>(C_);
  ensure(dlogits_, backend_, static_cast<size_t>(B) * K_ * sizeof(float));
  ensure(dpooled_, backend_, static_cast<size_t>(B) * C * sizeof(float));
  // d(mean over the labelled rows) = (softmax - onehot) / n on those rows (chapter 05's cross-entropy).
  backend_.zero(dlogits_.floats(), static_cast<size_t>(B) * K_);
  backend_.cross_entropy_backward(dlogits_.floats(), logits_.floats(), lse_.floats(), labels_.ints(),
                                  loss_weight / static_cast<float>(num_labeled_), B, K_);
  // d(score) += dlogits^T pooled; dpooled = dlogits score.
  backend_.zero(dpooled_.floats(), static_cast<size_t>(B) * C);
  const float* weight = model_.attached_params().data() + offset_;
  backend_.lm_head_backward(through_model_ ? dpooled_.floats() : nullptr, grads.data() + offset_,
                            dlogits_.floats(), pooled_.floats(), weight, B, C_, K_);
  if (!through_model_) return;
  // dhidden: each row's gradient at its last position, zero everywhere else.
  ensure(dhidden_, backend_, static_cast<size_t>(B) * T * C * sizeof(float));
  backend_.zero(dhidden_.floats(), static_cast<size_t>(B) * T * C);
  for (int b = 0; b < B; ++b)
    backend_.copy(dhidden_.floats() + (static_cast<size_t>(b) * T + last_[static_cast<size_t>(b)]) * C,
                  dpooled_.floats() + b * C, C * sizeof(float));
  model_.backward_from_hidden(dhidden_.floats());
}

Tensor SequenceClassifier::score() const {
  return Tensor::from(
      {K_, C_}, to_host(backend_, model_.attached_params().data() + offset_, static_cast<size_t>(K_) * C_));
}

ParamInfo SequenceClassifier::param_info() const {
  return {std::string(kClassifierHeadName), 0, {K_, C_}};
}

std::vector<float> class_probabilities(std::span<const float> logits) {
  const float zmax = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float z : logits) sum += std::exp(static_cast<double>(z) - zmax);
  std::vector<float> p;
  for (float z : logits) p.push_back(static_cast<float>(std::exp(static_cast<double>(z) - zmax) / sum));
  return p;
}

// ----- the classifier directory -------------------------------------------------------------------

bool is_classifier_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(dir / "config.json", ec)) return false;
  const nlohmann::json j = nlohmann::json::parse(read_file(dir / "config.json"), nullptr, false);
  return j.is_object() && j.contains("id2label") && j.contains("architectures") &&
         j["architectures"] == nlohmann::json::array({"GPT2ForSequenceClassification"});
}

ClassifierHead read_classifier_head(const std::filesystem::path& dir, const GPT2Config& base) {
  const std::filesystem::path config_path = dir / "config.json", weights_path = dir / "model.safetensors";
  const std::string config_name = config_path.string();
  const nlohmann::json j = parse_json(read_file(config_path), config_name);
  GPT2_CHECK(j.is_object(), config_name, ": expected a JSON object");
  const SafetensorsFile file = SafetensorsFile::open(weights_path);
  const std::string key(kClassifierHeadName);
  GPT2_CHECK(file.contains(key), weights_path.string(), ": no '", key,
             "': not a sequence classifier (gpt2 finetune --task classify writes one)");
  const Shape shape = file.info(key).shape;
  GPT2_CHECK(shape.size() == 2 && shape[0] >= 1 && shape[1] == base.n_embd, weights_path.string(), ": '", key,
             "' has shape ", shape_to_string(shape), ", expected [num_labels, ", base.n_embd, "] (n_embd)");
  ClassifierHead head;
  head.score = file.get(key);
  for (float v : head.score.span())
    GPT2_CHECK(std::isfinite(v), weights_path.string(), ": '", key, "' holds ", v);
  const int64_t K = shape[0];
  const nlohmann::json& id2label = json_object(j, "id2label", config_name);
  GPT2_CHECK(static_cast<int64_t>(id2label.size()) == K, config_name, ": 'id2label' names ", id2label.size(),
             " classes, score.weight has ", K);
  for (int64_t k = 0; k < K; ++k) {
    const std::string id = std::to_string(k);
    GPT2_CHECK(id2label.contains(id) && id2label[id].is_string() && !id2label[id].get<std::string>().empty(),
               config_name, ": 'id2label' has no name for class ", k,
               id2label.contains(id) ? cat(" (got ", json_for_message(id2label[id]), ")") : std::string());
    head.labels.push_back(id2label[id].get<std::string>());
  }
  if (j.contains("pad_token_id") && !j["pad_token_id"].is_null())
    head.pad_token_id = static_cast<int>(json_int(j, "pad_token_id", 0, base.vocab_size - 1, config_name));
  return head;
}

void write_classifier_dir(const std::filesystem::path& dir, const GPT2Config& config,
                          std::span<const float> params, const ClassifierHead& head,
                          const std::filesystem::path& tokenizer_dir) {
  GPT2_CHECK(head.score.dim() == 2 && head.score.shape()[0] == static_cast<int64_t>(head.labels.size()) &&
                 head.score.shape()[1] == config.n_embd,
             "write_classifier_dir: a head of shape ", shape_to_string(head.score.shape()), " for ",
             head.labels.size(), " labels and n_embd ", config.n_embd);
  gpt2::create_directories(dir);
  // The weights as GPT2ForSequenceClassification.state_dict() names them.
  SafetensorsWriter w;
  add_hf_weights(w, ParameterLayout(config), params, DType::F32, "transformer.");
  w.add(std::string(kClassifierHeadName), head.score);
  w.write(dir / "model.safetensors");
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(config_to_json(config));
  j["architectures"] = {"GPT2ForSequenceClassification"};
  nlohmann::ordered_json id2label, label2id;
  for (size_t k = 0; k < head.labels.size(); ++k) {
    id2label[std::to_string(k)] = head.labels[k];
    label2id[head.labels[k]] = k;
  }
  j["id2label"] = id2label;
  j["label2id"] = label2id;
  // transformers pools at the last token that is not padding, and needs to know which that is.
  if (head.pad_token_id >= 0) j["pad_token_id"] = head.pad_token_id;
  write_file_atomic(dir / "config.json", j.dump(2) + "\n");
  if (!tokenizer_dir.empty()) copy_tokenizer_files(tokenizer_dir, dir);
}

}  // namespace gpt2
