#include "hf_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "transformer.";

bool is_float_dtype(DType d) {
  return d == DType::F32 || d == DType::F16 || d == DType::BF16 || d == DType::F64;
}

// h.{i}.attn.bias / h.{i}.attn.masked_bias: the causal mask and a constant that older
// transformers versions stored as buffers. They are not parameters.
bool is_attention_buffer(const std::string& name) {
  static const std::regex buffer(R"(h\.[0-9]+\.attn\.(bias|masked_bias))");
  return std::regex_match(name, buffer);
}

// Throws if `values` (tensor `stored` of `shape`) holds a NaN or an infinity: a model with one
// generates token 0 forever, evaluates to "loss nan" and trains into more NaNs, so it is refused
// at the door, naming the tensor and the element.
void check_finite(std::span<const float> values, const Shape& shape, const std::string& stored,
                  const std::string& fname) {
  const auto bad = std::find_if(values.begin(), values.end(), [](float x) { return !std::isfinite(x); });
  if (bad == values.end()) return;
  const auto flat = static_cast<int64_t>(bad - values.begin());
  Shape index(shape.size());
  for (size_t d = shape.size(), rest = static_cast<size_t>(flat); d-- > 0;) {
    index[d] = static_cast<int64_t>(rest % static_cast<size_t>(shape[d]));
    rest /= static_cast<size_t>(shape[d]);
  }
  fail(fname, ": tensor '", stored, "' holds ", *bad, " at element ", flat, " (index ",
       shape_to_string(index), "): these weights are broken (a run that diverged?)");
}

// The name under which `name` is stored in `file` (with or without the prefix), or "".
std::string stored_name(const SafetensorsFile& file, const std::string& name) {
  if (file.contains(name)) return name;
  if (file.contains(std::string(kPrefix) + name)) return std::string(kPrefix) + name;
  return "";
}

// A file whose matrices are quantized to int8 (chapter 08's weight formats, `gpt2 quantize`) cannot
// be read as float weights: say so, rather than "missing tensor".
void check_float_weights(const SafetensorsFile& file) {
  const auto format = file.metadata().find("gpt2_weights");
  GPT2_CHECK(
      format == file.metadata().end() || format->second == "f32" || format->second == "bf16",
      file.file_name(), ": holds weights in the format '", format->second,
      "' (written by gpt2 quantize), which only gpt2 generate and gpt2 eval read; to use them as float "
      "weights, dequantize them first: gpt2 quantize --model DIR --out NEW_DIR --weights f32");
}

}  // namespace

void check_config_matches_weights(const GPT2Config& config, const SafetensorsFile& file,
                                  const std::string& config_name) {
  const std::string& fname = file.file_name();
  check_float_weights(file);
  // The embeddings fix V, maxT and C: wte.weight is [V, C], wpe.weight is [maxT, C].
  auto check_rows_cols = [&](const std::string& tensor, const char* rows_field, int rows) {
    const std::string stored = stored_name(file, tensor);
    GPT2_CHECK(!stored.empty(), fname, ": missing tensor '", tensor, "'");
    const Shape& shape = file.info(stored).shape;
    const bool two_d = shape.size() == 2;
    GPT2_CHECK(two_d && shape[1] == config.n_embd, config_name, ": n_embd is ", config.n_embd, ", but ",
               fname, ": '", stored, "' has shape ", shape_to_string(shape));
    GPT2_CHECK(shape[0] == rows, config_name, ": ", rows_field, " is ", rows, ", but ", fname, ": '", stored,
               "' has shape ", shape_to_string(shape));
  };
  check_rows_cols("wte.weight", "vocab_size", config.vocab_size);
  check_rows_cols("wpe.weight", "n_positions", config.n_positions);
  // The blocks fix L: the highest h.{i} in the file is block L - 1.
  const std::regex block(R"((transformer\.)?h\.([0-9]{1,9})\..*)");
  int64_t layers = 0;
  for (const std::string& name : file.names()) {
    std::smatch m;
    if (std::regex_match(name, m, block)) layers = std::max<int64_t>(layers, std::stoll(m[2]) + 1);
  }
  GPT2_CHECK(layers == config.n_layer, config_name, ": n_layer is ", config.n_layer, ", but ", fname,
             " holds the blocks of ", layers, " layers",
             layers > 0 ? cat(" (h.0 .. h.", layers - 1, ")") : std::string());
}

void read_hf_weights(const SafetensorsFile& file, const ParameterLayout& layout, std::span<float> params,
                     const std::string& config_name) {
  const std::string& fname = file.file_name();
  GPT2_CHECK(static_cast<int64_t>(params.size()) == layout.num_parameters(), "read_hf_weights: buffer holds ",
             params.size(), " floats, the layout needs ", layout.num_parameters());
  const GPT2Config& config = layout.config();
  check_float_weights(file);
  std::map<std::string, const ParamSpec*> wanted;
  for (const ParamSpec& s : layout.specs()) wanted[s.name] = &s;

  // 1. Every name in the file: strip the prefix, then it must be a parameter, the tied head or
  //    an attention buffer. Check its dtype and shape.
  std::map<std::string, std::string> file_name_of;  // parameter name -> name in the file
  std::string lm_head;
  const std::regex block_param(
      R"(h\.([0-9]{1,9})\.(ln_1|ln_2|attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.(weight|bias))");
  // lm_head.weight sorts before "transformer.*": look at it last, so that a wrong size is reported
  // on the parameter it comes from.
  std::vector<std::string> names = file.names();
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n != "lm_head.weight"; });
  for (const std::string& stored : names) {
    std::string name = stored.starts_with(kPrefix) ? stored.substr(kPrefix.size()) : stored;
    if (is_attention_buffer(name)) continue;
    if (stored == kClassifierHeadName) continue;  // a sequence classifier's head (chapter 10 reads it)
    const TensorInfo& info = file.info(stored);
    if (name == "lm_head.weight") {
      lm_head = stored;
    } else {
      auto it = wanted.find(name);
      if (it == wanted.end()) {
        // A block beyond the configured ones means config.json and the weights disagree: say so.
        std::smatch m;
        if (std::regex_match(name, m, block_param) && std::stoll(m[1]) >= config.n_layer) {
          fail(fname, ": tensor '", stored, "' does not exist in a GPT-2 with ", config.n_layer, " layers (",
               config_name, " and the weights disagree)");
        }
        fail(fname, ": unexpected tensor '", stored, "' (not a GPT-2 parameter)");
      }
      GPT2_CHECK(!file_name_of.count(name), fname, ": tensor '", name,
                 "' is stored twice (with and without the '", kPrefix, "' prefix)");
      file_name_of[name] = stored;
    }
    GPT2_CHECK(is_float_dtype(info.dtype), fname, ": tensor '", stored, "' has dtype ",
               dtype_name(info.dtype), ", expected F32, F16 or BF16");
    const Shape& expected = name == "lm_head.weight" ? wanted["wte.weight"]->shape : wanted[name]->shape;
    GPT2_CHECK(info.shape == expected, fname, ": tensor '", stored, "' has shape ",
               shape_to_string(info.shape), ", expected ", shape_to_string(expected), " for ",
               to_string(config), " (from ", config_name, ")");
  }

  // 2. Every parameter must be there; read it.
  for (const ParamSpec& s : layout.specs()) {
    auto it = file_name_of.find(s.name);
    GPT2_CHECK(it != file_name_of.end(), fname, ": missing tensor '", s.name, "'");
    const std::span<float> values =
        params.subspan(static_cast<size_t>(s.offset), static_cast<size_t>(s.numel));
    file.read_into(it->second, s.shape, values);
    check_finite(values, s.shape, it->second, fname);
  }

  // 3. A stored language-model head must be the token embedding: this model ties them.
  if (!lm_head.empty()) {
    const ParamSpec& wte = layout.find("wte.weight");
    std::vector<float> head(static_cast<size_t>(wte.numel));
    file.read_into(lm_head, wte.shape, head);
    auto emb = params.subspan(static_cast<size_t>(wte.offset), head.size());
    GPT2_CHECK(
        std::equal(head.begin(), head.end(), emb.begin()), fname, ": '", lm_head,
        "' differs from 'wte.weight'; GPT-2 ties the language-model head to the token embedding and so "
        "does this program");
  }
}

void add_hf_weights(SafetensorsWriter& writer, const ParameterLayout& layout, std::span<const float> params,
                    DType dtype, std::string_view prefix) {
  GPT2_CHECK(static_cast<int64_t>(params.size()) == layout.num_parameters(),
             "write_hf_weights: buffer holds ", params.size(), " floats, the layout needs ",
             layout.num_parameters());
  writer.set_metadata("format", "pt");  // transformers wants to know the tensors are PyTorch's
  for (const ParamSpec& s : layout.specs()) {
    const std::span<const float> p =
        params.subspan(static_cast<size_t>(s.offset), static_cast<size_t>(s.numel));
    if (dtype == DType::F32) {
      writer.add_view(cat(prefix, s.name), s.shape, p);  // no copy: `params` outlives the write
    } else {
      writer.add(cat(prefix, s.name), s.shape, p, dtype);
    }
  }
}

void write_hf_weights(const fs::path& path, const ParameterLayout& layout, std::span<const float> params,
                      DType dtype) {
  SafetensorsWriter writer;
  add_hf_weights(writer, layout, params, dtype);
  writer.write(path);
}

namespace {

// The configuration against the header first: only then is the buffer asked for (it is sized
// from the configuration, so an absurd config.json must not allocate anything), and the weights
// read into it.
void read_hf_weights_checked(const GPT2Config& config, const SafetensorsFile& weights,
                             const std::string& config_name,
                             const std::function<std::span<float>(const GPT2Config&)>& weights_into) {
  check_config_matches_weights(config, weights, config_name);
  read_hf_weights(weights, ParameterLayout(config), weights_into(config), config_name);
}

}  // namespace

GPT2Config read_hf_model_dir(const fs::path& dir,
                             const std::function<std::span<float>(const GPT2Config&)>& weights_into) {
  GPT2_CHECK(fs::is_directory(dir), "model directory '", dir.string(), "' does not exist");
  fs::path config_path = dir / "config.json", weights_path = dir / "model.safetensors";
  GPT2_CHECK(fs::is_regular_file(config_path), "model directory '", dir.string(),
             "' has no config.json (a model directory holds config.json, model.safetensors and the tokenizer "
             "files; scripts/download_gpt2.sh fetches OpenAI's)");
  GPT2_CHECK(fs::is_regular_file(weights_path), "model directory '", dir.string(),
             "' has no model.safetensors");
  const GPT2Config config = read_config_json(config_path);
  read_hf_weights_checked(config, SafetensorsFile::open(weights_path), config_path.string(), weights_into);
  return config;
}

HFModel read_hf_model_dir(const fs::path& dir) {
  HFModel m;
  m.config = read_hf_model_dir(dir, [&](const GPT2Config& config) {
    m.params = Tensor({count_parameters(config)});
    return m.params.span();
  });
  return m;
}

HFModel read_hf_model(const GPT2Config& config, const SafetensorsFile& weights,
                      const std::string& config_name) {
  HFModel m{config, Tensor()};
  read_hf_weights_checked(config, weights, config_name, [&](const GPT2Config& c) {
    m.params = Tensor({count_parameters(c)});
    return m.params.span();
  });
  return m;
}

void write_hf_model_dir(const fs::path& dir, const GPT2Config& config, std::span<const float> params,
                        const fs::path& tokenizer_dir) {
  gpt2::create_directories(dir);
  write_hf_weights(dir / "model.safetensors", ParameterLayout(config), params);
  write_config_json(config, dir / "config.json");
  if (!tokenizer_dir.empty()) copy_tokenizer_files(tokenizer_dir, dir);
}

void copy_tokenizer_files(const fs::path& from_dir, const fs::path& to_dir) {
  // The same rule as Tokenizer::load: the model directory gets the tokenizer that was used.
  const TokenizerFiles from = find_tokenizer_files(from_dir);
  const std::string vocab = read_file(from.vocab), merges = read_file(from.merges);
  gpt2::create_directories(to_dir);
  const TokenizerFiles to{to_dir / "vocab.json", to_dir / "merges.txt"};
  write_file_atomic(to.vocab, vocab);
  write_file_atomic(to.merges, merges);
  remove_other_tokenizer_files(to);
}

}  // namespace gpt2
