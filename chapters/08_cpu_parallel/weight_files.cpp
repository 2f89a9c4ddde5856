#include "chapters/08_cpu_parallel/weight_files.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "chapters/08_cpu_parallel/weight_format_backend.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/safetensors.h"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

std::string q8_name(const ParamSpec& s) {
  return s.name + ".q8";
}
std::string scales_name(const ParamSpec& s) {
  return s.name + ".q8_scales";
}

// The float parameters of `model` on the host (a copy when the backend's memory is not the host's).
std::vector<float> host_params(const GPT2& model) {
  if (model.backend().host_memory()) return {model.params().begin(), model.params().end()};
  return model.params_to_host().to_vector();
}

// Reads NAME.q8 and NAME.q8_scales for the matrix `spec`, checking everything the kernels rely on.
Q8Matrix read_q8_matrix(const SafetensorsFile& file, const ParamSpec& spec, const GPT2Config& config) {
  const std::string& fname = file.file_name();
  const FloatWeights view = converted_view(spec, nullptr);
  Q8Matrix m;
  m.rows = view.rows;
  m.cols = view.cols;
  const int64_t blocks = m.blocks(), rows = m.rows;
  const std::string qn = q8_name(spec), sn = scales_name(spec);
  for (const auto& [name, dtype, shape] : {std::tuple{qn, DType::I8, Shape{rows, blocks * kQ8Block}},
                                           std::tuple{sn, DType::F32, Shape{rows, blocks}}}) {
    const TensorInfo& info = file.info(name);
    GPT2_CHECK(info.dtype == dtype, fname, ": tensor '", name, "' has dtype ", dtype_name(info.dtype),
               ", expected ", dtype_name(dtype));
    GPT2_CHECK(info.shape == shape, fname, ": tensor '", name, "' has shape ", shape_to_string(info.shape),
               ", expected ", shape_to_string(shape), " (", rows, " outputs x ", blocks, " blocks of ",
               kQ8Block, " for '", spec.name, "' ", shape_to_string(spec.shape), " of ", to_string(config),
               ")");
  }
  const std::vector<int8_t> q = file.get_int8(qn);
  const std::vector<float> scales = file.get_vector(sn);
  m.q.assign(q.begin(), q.end());
  m.scales.assign(scales.begin(), scales.end());
  const int64_t row_len = blocks * kQ8Block;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < row_len; ++c) {
      const int8_t v = m.q[static_cast<size_t>(r * row_len + c)];
      GPT2_CHECK(v != -128, fname, ": tensor '", qn, "' holds -128 at [", r, ", ", c,
                 "]; q8 values lie in [-127, 127]");
      GPT2_CHECK(c < m.cols || v == 0, fname, ": tensor '", qn, "' holds ", int{v}, " at [", r, ", ", c,
                 "], past the matrix's ", m.cols, " columns (the padding of the last block must be 0)");
    }
    for (int64_t b = 0; b < blocks; ++b) {
      const float s = m.scales[static_cast<size_t>(r * blocks + b)];
      GPT2_CHECK(std::isfinite(s) && s >= 0, fname, ": tensor '", sn, "' holds ", s, " at [", r, ", ", b,
                 "]; a block's scale is max|w| / 127, a finite number >= 0");
    }
  }
  return m;
}

// Loads a q8 model.safetensors (already opened as `file`) into a new model on `backend`.
GPT2 load_q8_dir(const fs::path& dir, const SafetensorsFile& file, Backend& backend) {
  const std::string& fname = file.file_name();
  const auto& meta = file.metadata();
  const auto block = meta.find(kQ8BlockMetadataKey);
  GPT2_CHECK(block != meta.end() && block->second == std::to_string(kQ8Block), fname, ": metadata '",
             kQ8BlockMetadataKey, "' is ",
             block == meta.end() ? std::string("missing") : "'" + block->second + "'",
             "; this program reads q8 blocks of ", kQ8Block);
  const GPT2Config config = read_config_json(dir / "config.json");
  GPT2 model(config, backend);
  const ParameterLayout& layout = model.layout();

  // Every tensor of the file must be one we expect, and every one we expect must be there.
  std::set<std::string> expected;
  for (const ParamSpec& s : layout.specs()) {
    if (is_converted_matrix(s)) {
      expected.insert(q8_name(s));
      expected.insert(scales_name(s));
    } else {
      expected.insert(s.name);
    }
  }
  for (const std::string& name : file.names()) {
    GPT2_CHECK(expected.count(name), fname, ": unexpected tensor '", name, "' in a q8 file of a GPT-2 with ",
               config.n_layer, " layers (", (dir / "config.json").string(), ")");
  }
  for (const std::string& name : expected)
    GPT2_CHECK(file.contains(name), fname, ": missing tensor '", name, "'");

  auto* formats = dynamic_cast<WeightFormatBackend*>(&backend);
  const bool keep_q8 = formats && formats->format() == WeightFormat::q8;
  // Straight into the model's parameters when they are in host memory, else through a host copy.
  std::vector<float> host(backend.host_memory() ? 0 : static_cast<size_t>(layout.num_parameters()));
  float* params = backend.host_memory() ? model.params().data() : host.data();
  for (const ParamSpec& s : layout.specs()) {
    float* values = params + s.offset;
    if (is_converted_matrix(s)) {
      Q8Matrix m = read_q8_matrix(file, s, config);
      from_q8(m, values, converted_view(s, nullptr).conv1d);
      if (keep_q8) formats->set_weight(model.params().data() + s.offset, std::move(m));
    } else {
      file.read_into(s.name, s.shape, {values, static_cast<size_t>(s.numel)});
      for (int64_t i = 0; i < s.numel; ++i) {
        GPT2_CHECK(std::isfinite(values[i]), fname, ": tensor '", s.name, "' holds ", values[i],
                   " at element ", i, ": these weights are broken");
      }
    }
  }
  if (!backend.host_memory()) model.set_params(host);
  if (formats && !keep_q8) formats->convert_weights(model);  // bf16 from the widened values
  return model;
}

}  // namespace

void save_model_dir_as(const GPT2& model, const fs::path& dir, WeightFormat format,
                       const fs::path& tokenizer_dir) {
  if (format == WeightFormat::f32) {
    model.save(dir, tokenizer_dir);
    return;
  }
  const std::vector<float> params = host_params(model);
  const auto* formats = dynamic_cast<const WeightFormatBackend*>(&model.backend());
  SafetensorsWriter writer;
  writer.set_metadata(kWeightsMetadataKey, weight_format_name(format));
  if (format == WeightFormat::bf16) writer.set_metadata("format", "pt");  // an ordinary checkpoint
  if (format == WeightFormat::q8) writer.set_metadata(kQ8BlockMetadataKey, std::to_string(kQ8Block));
  for (const ParamSpec& s : model.layout().specs()) {
    const std::span<const float> values{params.data() + s.offset, static_cast<size_t>(s.numel)};
    if (!is_converted_matrix(s)) {
      writer.add(s.name, s.shape, values);
    } else if (format == WeightFormat::bf16) {
      writer.add(s.name, s.shape, values, DType::BF16);
    } else {
      const Q8Matrix* held = formats ? formats->q8_weight(model.params().data() + s.offset) : nullptr;
      const Q8Matrix m = held ? *held : to_q8(converted_view(s, params.data()));
      writer.add_int8(q8_name(s), {m.rows, static_cast<int64_t>(m.blocks()) * kQ8Block}, m.q);
      writer.add(scales_name(s), {m.rows, m.blocks()}, m.scales);
    }
  }
  gpt2::create_directories(dir);
  writer.write(dir / "model.safetensors");
  write_config_json(model.config(), dir / "config.json");
  if (!tokenizer_dir.empty()) copy_tokenizer_files(tokenizer_dir, dir);
}

WeightFormat stored_weight_format(const fs::path& dir) {
  const fs::path path = dir / "model.safetensors";
  GPT2_CHECK(fs::is_regular_file(path), "model directory '", dir.string(), "' has no model.safetensors");
  const auto meta = read_safetensors_metadata(path);
  const auto it = meta.find(kWeightsMetadataKey);
  if (it == meta.end()) return WeightFormat::f32;
  return parse_weight_format(it->second, cat(path.string(), ": metadata '", kWeightsMetadataKey, "'"));
}

GPT2 load_model_dir_for_inference(const fs::path& dir, Backend& backend) {
  if (stored_weight_format(dir) == WeightFormat::q8) {
    GPT2_CHECK(fs::is_regular_file(dir / "config.json"), "model directory '", dir.string(),
               "' has no config.json");
    return load_q8_dir(dir, SafetensorsFile::open(dir / "model.safetensors"), backend);
  }
  GPT2 model = GPT2::load(dir, backend);  // f32 or bf16: chapter 05's reader, widening bf16 exactly
  if (auto* formats = dynamic_cast<WeightFormatBackend*>(&backend)) formats->convert_weights(model);
  return model;
}

}  // namespace gpt2
