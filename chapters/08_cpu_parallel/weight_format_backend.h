/// @file weight_format_backend.h
/// @brief WeightFormatBackend: FastCpuBackend with the model's weight matrices held in bf16 or q8
/// (weight_formats.h), or in f32 with a copy laid out for decoding (matvec.h), for inference. The
/// model's forward does not change.
///
/// The model (chapter 05) names every weight by a pointer into its one float parameter buffer and
/// passes it to the backend: `linear_forward(out, inp, w.c_attn_w, ...)`,
/// `lm_head_forward(logits, lnf, w_.wte, ...)`. This backend keeps a table from those pointers to
/// a converted copy of the matrix. When the model asks for a product with a weight in the table,
/// the backend multiplies with the copy (format_kernels.h); any other weight goes to
/// FastCpuBackend's float kernels. So the pointer is a handle: the model's code is the same for
/// every format.
///
/// In f32 the products are FastCpuBackend's, bit for bit; what the table holds then is a copy of
/// each block's four Conv1D weights in the tiled order of matvec.h (TiledConv1D), which a decode
/// step (a product of one row) reads at the memory's full speed. The head's wte, read row by row
/// already, keeps its float layout, and products of more rows (a prompt's prefill) run gemm on
/// the float buffer.
///
/// What is converted: the four weight matrices of each block (attn.c_attn, attn.c_proj, mlp.c_fc,
/// mlp.c_proj) and the tied head wte, 99% of GPT-2 124M's weights and all of what a decode step
/// reads in bulk. What stays float: the biases and LayerNorm parameters (1% of the bytes, and
/// the ones quantization would hurt most: a LayerNorm gain scales a whole channel), the position
/// table wpe (a decode step reads one of its rows) and the token-embedding lookup, which reads
/// wte's float copy (one row per token).
///
/// Usage:
/// @code
///   gpt2::WeightFormatBackend backend(gpt2::WeightFormat::q8);
///   gpt2::GPT2 model = gpt2::GPT2::load("models/gpt2", backend);  // float weights, as always
///   backend.convert_weights(model);                               // now the products use q8
///   gpt2::Generation g = gpt2::generate(model, prompt, options);  // chapter 07, unchanged
/// @endcode
///
/// Inference only: the float buffer stays (it holds the rounded weights, which model.params() and
/// save() see; a leaner engine would drop the float copies of the matrices, so every format costs
/// memory beside the float model: bf16 half of it, q8 about a quarter, the f32 decode copy the size
/// of the Conv1D weights, 68% of GPT-2 124M's floats), and a backward pass
/// through a converted weight is an error, since its copy would not follow the updates. Convert
/// again after changing the weights. One backend serves one model: the table is keyed by that
/// model's addresses.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/matvec.h"
#include "chapters/08_cpu_parallel/weight_formats.h"

namespace gpt2 {

/// Whether a parameter is one of the matrices a weight format converts (the four weight matrices
/// of each block and wte), and if so, how to read it from the float buffer `params`: rows are the
/// outputs (wte (V, C) as stored; a Conv1D weight (C, OC) transposed). `params` may be null when
/// only the shape is wanted.
bool is_converted_matrix(const ParamSpec& spec);
FloatWeights converted_view(const ParamSpec& spec, const float* params);

class WeightFormatBackend : public FastCpuBackend {
 public:
  /// A backend whose converted matrices will be in `format` (f32: the Conv1D weights tiled for
  /// decoding, wte not converted);
  /// `activations` says what the q8 products do with the activations.
  explicit WeightFormatBackend(WeightFormat format, Q8Activations activations = Q8Activations::f32);

  /// "cpu-fast-bf16", "cpu-fast-q8" (q8 with float activations), "cpu-fast-q8q8", or
  /// "cpu-fast" for f32.
  std::string name() const override;
  WeightFormat format() const { return format_; }
  Q8Activations q8_activations() const { return activations_; }

  /// Converts every matrix of `model` (which must compute on this backend) that
  /// is_converted_matrix() names from its float parameters, replacing what the table held, and
  /// writes the converted values back into the float parameters (bf16 widened, q8 as s q): the
  /// model then is its rounded self in both copies, and the token embedding, which reads wte's
  /// float rows, sees the same wte as the head. In f32 it tiles the Conv1D weights and changes
  /// nothing.
  void convert_weights(GPT2& model);
  /// Puts a matrix that is already converted (read from a file) into the table, as the copy of
  /// the float weight at `weight` (rows outputs, cols inputs: what the products will check).
  void set_weight(const float* weight, Bf16Matrix matrix);
  void set_weight(const float* weight, Q8Matrix matrix);
  /// The converted copy of the weight at `weight`, or null (for saving a model in its format).
  const Bf16Matrix* bf16_weight(const float* weight) const;
  const Q8Matrix* q8_weight(const float* weight) const;
  /// The tiled decode copy of the Conv1D weight at `weight` (f32), or null.
  const TiledConv1D* f32_weight(const float* weight) const;
  /// How many matrices are converted (or tiled, in f32), and their bytes (values and scales).
  size_t converted_count() const { return weights_.size(); }
  size_t converted_bytes() const;

  void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                      int OC) override;
  void lm_head_forward(float* logits, const float* inp, const float* wte, int N, int C, int V) override;
  /// Throw gpt2::Error for a converted weight: its copy is for inference only.
  void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, int N, int C, int OC) override;
  void lm_head_backward(float* dinp, float* dwte, const float* dlogits, const float* inp, const float* wte,
                        int N, int C, int V) override;

 private:
  struct Converted {
    Bf16Matrix bf16;  // used when format_ is bf16
    Q8Matrix q8;      // used when format_ is q8
    TiledConv1D f32;  // used when format_ is f32 (Conv1D weights only)
  };
  // The converted copy of `weight`, checked against the product's shape; null if there is none.
  const Converted* find(const float* weight, int rows, int cols, const char* op) const;
  // out (N, rows) = inp (N, cols) @ W^T + bias with the converted copy.
  void multiply(float* out, const float* inp, const Converted& w, const float* bias, int N) const;

  WeightFormat format_;
  Q8Activations activations_;
  std::unordered_map<const float*, Converted> weights_;
};

}  // namespace gpt2
