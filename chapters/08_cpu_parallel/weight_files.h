/// @file weight_files.h
/// @brief A model directory whose weight matrices are stored in bf16 or q8 (what `gpt2 quantize`
/// writes), and loading any model directory for inference in the format a backend asks for.
///
/// The directory is chapter 05's: config.json, model.safetensors and the tokenizer files. The
/// safetensors metadata records the format of the matrices (weight_format_backend.h says which
/// tensors those are) under the key `gpt2_weights`:
///
///     gpt2_weights  the converted matrices                        the other tensors
///     f32           F32, as GPT2::save writes them                F32
///     bf16          BF16 under their own names and shapes         F32
///     q8            NAME.q8 (I8) and NAME.q8_scales (F32)         F32
///
/// A bf16 file is an ordinary Hugging Face checkpoint: transformers and chapter 05's reader load
/// it (widening bf16 to float is exact). A q8 file stores each matrix NAME as the kernels read it
/// (weight_formats.h): `NAME.q8` of shape [rows, blocks * 32], one row per output (for a Conv1D
/// weight [in, out] that is its transpose), each row cut into blocks of 32 int8 values in
/// [-127, 127], zero past the last column, and `NAME.q8_scales` of shape [rows, blocks], one
/// finite scale >= 0 per block; the metadata also records `gpt2_q8_block` = "32". Chapter 05's
/// reader refuses a q8 file with a message saying how to dequantize it.
#pragma once

#include <filesystem>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/08_cpu_parallel/weight_formats.h"

namespace gpt2 {

/// The metadata keys of a model.safetensors written by save_model_dir_as().
inline constexpr const char* kWeightsMetadataKey = "gpt2_weights";
inline constexpr const char* kQ8BlockMetadataKey = "gpt2_q8_block";

/// Writes a complete model directory with the matrices of `model` in `format`: model.safetensors
/// (as above), config.json and, if `tokenizer_dir` is given, its tokenizer files. For q8, the
/// matrices the model's backend already holds in q8 (a WeightFormatBackend that loaded them) are
/// written as they are; the others are quantized from the float parameters.
void save_model_dir_as(const GPT2& model, const std::filesystem::path& dir, WeightFormat format,
                       const std::filesystem::path& tokenizer_dir = {});

/// The format recorded in `dir`/model.safetensors (f32 when nothing is recorded, as in every
/// checkpoint transformers writes), reading only the file's header. Throws gpt2::Error naming
/// the file for a broken header or a format this program does not know.
WeightFormat stored_weight_format(const std::filesystem::path& dir);

/// Loads `dir` (in any of the formats) onto `backend` for inference, in inference mode. The
/// model's float parameters hold the weights (a q8 matrix widened to s q). When `backend` is a
/// WeightFormatBackend, its converted copies are set up too: the stored q8 values themselves when
/// both are q8, otherwise converted from the float parameters. Every problem of a q8 file (a
/// missing or unexpected tensor, a wrong dtype or shape, so a wrong number of blocks, a value
/// -128, a nonzero padding, a NaN, infinite or negative scale) is a gpt2::Error naming the file
/// and the tensor.
GPT2 load_model_dir_for_inference(const std::filesystem::path& dir, Backend& backend);

}  // namespace gpt2
