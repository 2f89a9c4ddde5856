// LoRA adapters inside the model: see lora_model.h.
#include "chapters/10_finetuning/lora_model.h"

#include <algorithm>

#include "chapters/06_training/training_ops.h"
#include "common/error.h"

namespace gpt2 {

namespace {
int site_index(int layer, BlockLinear which) {
  return 4 * layer + static_cast<int>(which);
}
}  // namespace

LoraModel::LoraModel(GPT2& model, const LoraAdapter& adapter)
    : model_(model), backend_(model.backend()), adapter_(adapter) {
  const GPT2Config& c = model.config();
  index_.assign(static_cast<size_t>(4 * c.n_layer), -1);
  for (const LoraLayer& l : adapter.layers) {
    const LoraTarget& t = l.target;
    GPT2_CHECK(t.layer >= 0 && t.layer < c.n_layer, "LoRA layer ", t.path(), " is not in a model of ",
               c.n_layer, " blocks");
    const Shape weight = model.layout().find(t.path() + ".weight").shape;
    GPT2_CHECK(weight == Shape({t.in, t.out}) && l.A.shape() == Shape({t.r, t.in}) &&
                   l.B.shape() == Shape({t.out, t.r}),
               "LoRA layer ", t.path(), ": A ", shape_to_string(l.A.shape()), " and B ",
               shape_to_string(l.B.shape()), " do not fit the model's weight ", shape_to_string(weight),
               ": is the adapter for another base model?");
    Layer layer;
    layer.target = t;
    layer.a = size_;
    layer.b = size_ + l.A.numel();
    size_ += l.A.numel() + l.B.numel();
    index_[static_cast<size_t>(site_index(t.layer, t.module))] = static_cast<int>(layers_.size());
    layers_.push_back(std::move(layer));
  }
  GPT2_CHECK(size_ > 0, "LoraModel: the adapter adapts no layer");
  offset_ = model.attach_parameters(size_);
  float* params = model.attached_params().data() + offset_;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LoraLayer& l = adapter.layers[i];
    backend_.copy_to_device(params + layers_[i].a, l.A.data(),
                            static_cast<size_t>(l.A.numel()) * sizeof(float));
    backend_.copy_to_device(params + layers_[i].b, l.B.data(),
                            static_cast<size_t>(l.B.numel()) * sizeof(float));
  }
  model.set_linear_adapter(this);
}

LoraModel::~LoraModel() {
  model_.set_linear_adapter(nullptr);
}

bool LoraModel::adapts(int layer, BlockLinear which) const {
  const int i = site_index(layer, which);
  return i >= 0 && i < static_cast<int>(index_.size()) && index_[static_cast<size_t>(i)] >= 0;
}

LoraModel::Layer* LoraModel::find(int layer, BlockLinear which) {
  return &layers_[static_cast<size_t>(index_[static_cast<size_t>(site_index(layer, which))])];
}

float* LoraModel::scratch(size_t n) {
  if (scratch_.bytes() < n * sizeof(float)) scratch_ = BackendBuffer(backend_, n * sizeof(float));
  return scratch_.floats();
}

void LoraModel::forward(int layer, BlockLinear which, float* out, const float* inp, int N, int C, int OC) {
  Layer& l = *find(layer, which);
  const int r = l.target.r;
  const float* params = model_.attached_params().data() + offset_;
  const float* A = params + l.a;  // (r, C)
  const float* B = params + l.b;  // (OC, r)
  if (l.u_rows < N) {
    l.u = BackendBuffer(backend_, static_cast<size_t>(N) * r * sizeof(float));
    l.u_rows = N;
  }
  float* u = l.u.floats();
  backend_.lm_head_forward(u, inp, A, N, C, r);                                   // u = x A^T
  training_ops(backend_).scale(u, static_cast<size_t>(N) * r, l.target.scaling);  // u' = s u
  float* t = scratch(static_cast<size_t>(N) * OC);
  backend_.lm_head_forward(t, u, B, N, r, OC);  // t = u' B^T
  backend_.residual_forward(out, out, t, N * OC);
}

void LoraModel::backward(int layer, BlockLinear which, float* dinp, const float* dout, const float* inp,
                         int N, int C, int OC) {
  Layer& l = *find(layer, which);
  const int r = l.target.r;
  const float* params = model_.attached_params().data() + offset_;
  std::span<float> grads = model_.attached_grads();
  GPT2_CHECK(!grads.empty(), "LoraModel::backward: the model has no gradients (training mode)");
  float* dA = grads.data() + offset_ + l.a;
  float* dB = grads.data() + offset_ + l.b;
  float* du = scratch(static_cast<size_t>(N) * r);
  backend_.zero(du, static_cast<size_t>(N) * r);
  backend_.lm_head_backward(du, dB, dout, l.u.floats(), params + l.b, N, r, OC);   // du = g B, dB += g^T u'
  training_ops(backend_).scale(du, static_cast<size_t>(N) * r, l.target.scaling);  // du = s g B
  backend_.lm_head_backward(dinp, dA, du, inp, params + l.a, N, C, r);             // dx += du A, dA += du^T x
}

LoraAdapter LoraModel::to_adapter() const {
  LoraAdapter a = adapter_;
  const std::vector<float> all =
      to_host(backend_, model_.attached_params().data() + offset_, static_cast<size_t>(size_));
  for (size_t i = 0; i < layers_.size(); ++i) {
    LoraLayer& out = a.layers[i];
    std::copy_n(all.begin() + layers_[i].a, out.A.numel(), out.A.data());
    std::copy_n(all.begin() + layers_[i].b, out.B.numel(), out.B.data());
  }
  return a;
}

std::vector<ParamInfo> LoraModel::param_infos() const {
  std::vector<ParamInfo> infos;
  for (const Layer& l : layers_) {
    infos.push_back(
        {peft_lora_tensor_name(l.target, 'A'), static_cast<size_t>(l.a), {l.target.r, l.target.in}});
    infos.push_back(
        {peft_lora_tensor_name(l.target, 'B'), static_cast<size_t>(l.b), {l.target.out, l.target.r}});
  }
  return infos;
}

}  // namespace gpt2
