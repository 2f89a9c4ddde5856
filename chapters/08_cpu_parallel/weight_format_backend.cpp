#include "chapters/08_cpu_parallel/weight_format_backend.h"

#include "chapters/08_cpu_parallel/format_kernels.h"
#include "common/error.h"

namespace gpt2 {

bool is_converted_matrix(const ParamSpec& spec) {
  if (spec.name == "wte.weight") return true;
  for (const char* suffix :
       {".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"}) {
    if (spec.name.starts_with("h.") && spec.name.ends_with(suffix)) return true;
  }
  return false;
}

FloatWeights converted_view(const ParamSpec& spec, const float* params) {
  GPT2_CHECK(is_converted_matrix(spec), "'", spec.name, "' is not a matrix the weight formats convert");
  const int d0 = static_cast<int>(spec.shape[0]), d1 = static_cast<int>(spec.shape[1]);
  const float* data = params ? params + spec.offset : nullptr;
  // wte (V, C): output v reads row v. A Conv1D weight (C, OC): output o reads column o.
  if (spec.name == "wte.weight") return {data, d0, d1, false};
  return {data, d1, d0, true};
}

WeightFormatBackend::WeightFormatBackend(WeightFormat format, Q8Activations activations)
    : format_(format), activations_(activations) {}

std::string WeightFormatBackend::name() const {
  switch (format_) {
    case WeightFormat::bf16:
      return "cpu-fast-bf16";
    case WeightFormat::q8:
      return activations_ == Q8Activations::q8 ? "cpu-fast-q8q8" : "cpu-fast-q8";
    case WeightFormat::f32:
      break;
  }
  return FastCpuBackend::name();
}

void WeightFormatBackend::convert_weights(GPT2& model) {
  GPT2_CHECK(&model.backend() == this, "convert_weights: the model computes on backend '",
             model.backend().name(), "', not on this one");
  weights_.clear();
  float* params = model.params().data();
  for (const ParamSpec& spec : model.layout().specs()) {
    if (!is_converted_matrix(spec)) continue;
    const FloatWeights w = converted_view(spec, params);
    if (format_ == WeightFormat::f32) {  // the decode copy of a Conv1D weight (C, OC); wte stays
      if (w.conv1d) weights_[params + spec.offset].f32 = tile_conv1d(params + spec.offset, w.cols, w.rows);
      continue;
    }
    // The float copy takes the converted values too, so that everything that reads it (the token
    // embedding's rows of wte, save()) sees the same weights as the products.
    float* data = params + spec.offset;
    if (format_ == WeightFormat::bf16) {
      Bf16Matrix m = to_bf16(w);
      from_bf16(m, data, w.conv1d);
      set_weight(data, std::move(m));
    } else {
      Q8Matrix m = to_q8(w);
      from_q8(m, data, w.conv1d);
      set_weight(data, std::move(m));
    }
  }
}

void WeightFormatBackend::set_weight(const float* weight, Bf16Matrix matrix) {
  GPT2_CHECK(format_ == WeightFormat::bf16, "set_weight: a bf16 matrix for a backend in ",
             weight_format_name(format_));
  weights_[weight].bf16 = std::move(matrix);
}

void WeightFormatBackend::set_weight(const float* weight, Q8Matrix matrix) {
  GPT2_CHECK(format_ == WeightFormat::q8, "set_weight: a q8 matrix for a backend in ",
             weight_format_name(format_));
  weights_[weight].q8 = std::move(matrix);
}

const Bf16Matrix* WeightFormatBackend::bf16_weight(const float* weight) const {
  auto it = weights_.find(weight);
  return it != weights_.end() && format_ == WeightFormat::bf16 ? &it->second.bf16 : nullptr;
}

const Q8Matrix* WeightFormatBackend::q8_weight(const float* weight) const {
  auto it = weights_.find(weight);
  return it != weights_.end() && format_ == WeightFormat::q8 ? &it->second.q8 : nullptr;
}

const TiledConv1D* WeightFormatBackend::f32_weight(const float* weight) const {
  auto it = weights_.find(weight);
  return it != weights_.end() && format_ == WeightFormat::f32 ? &it->second.f32 : nullptr;
}

size_t WeightFormatBackend::converted_bytes() const {
  size_t bytes = 0;
  for (const auto& [weight, c] : weights_) {
    bytes += c.bf16.values.size() * sizeof(uint16_t) + c.q8.q.size() + c.q8.scales.size() * sizeof(float) +
             c.f32.values.size() * sizeof(float);
  }
  return bytes;
}

const WeightFormatBackend::Converted* WeightFormatBackend::find(const float* weight, int rows, int cols,
                                                                const char* op) const {
  auto it = weights_.find(weight);
  if (it == weights_.end()) return nullptr;
  const Converted& c = it->second;
  int r = c.f32.OC, k = c.f32.C;  // outputs and inputs of the copy
  if (format_ == WeightFormat::bf16) r = c.bf16.rows, k = c.bf16.cols;
  if (format_ == WeightFormat::q8) r = c.q8.rows, k = c.q8.cols;
  GPT2_CHECK(r == rows && k == cols, op, ": the ", weight_format_name(format_), " copy of this weight is ", r,
             " outputs x ", k, " inputs, the product asks for ", rows, " x ", cols);
  return &c;
}

void WeightFormatBackend::multiply(float* out, const float* inp, const Converted& w, const float* bias,
                                   int N) const {
  if (format_ == WeightFormat::bf16) {
    matmul_bf16_fast(out, inp, w.bf16, bias, N);
  } else if (activations_ == Q8Activations::q8) {
    matmul_q8q8_fast(out, inp, w.q8, bias, N);
  } else {
    matmul_q8_fast(out, inp, w.q8, bias, N);
  }
}

void WeightFormatBackend::linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                                         int N, int C, int OC) {
  const Converted* w = find(weight, OC, C, "linear_forward");
  if (w && format_ == WeightFormat::f32 && N == 1) {
    matvec_conv1d_tiled(out, inp, w->f32, bias);  // a decode step: FastCpuBackend's sums, tiled
  } else if (w && format_ != WeightFormat::f32) {
    multiply(out, inp, *w, bias, N);
  } else {
    FastCpuBackend::linear_forward(out, inp, weight, bias, N, C, OC);
  }
}

void WeightFormatBackend::lm_head_forward(float* logits, const float* inp, const float* wte, int N, int C,
                                          int V) {
  if (const Converted* w = find(wte, V, C, "lm_head_forward")) {
    multiply(logits, inp, *w, nullptr, N);
  } else {
    FastCpuBackend::lm_head_forward(logits, inp, wte, N, C, V);
  }
}

void WeightFormatBackend::linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                          const float* inp, const float* weight, int N, int C, int OC) {
  GPT2_CHECK(!weights_.count(weight), "linear_backward: this weight has a ", weight_format_name(format_),
             " copy for inference only, which would not follow the update; train on FastCpuBackend "
             "(gpt2 train, finetune)");
  FastCpuBackend::linear_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}

void WeightFormatBackend::lm_head_backward(float* dinp, float* dwte, const float* dlogits, const float* inp,
                                           const float* wte, int N, int C, int V) {
  GPT2_CHECK(!weights_.count(wte), "lm_head_backward: the head has a ", weight_format_name(format_),
             " copy for inference only, which would not follow the update; train on FastCpuBackend "
             "(gpt2 train, finetune)");
  FastCpuBackend::lm_head_backward(dinp, dwte, dlogits, inp, wte, N, C, V);
}

}  // namespace gpt2
