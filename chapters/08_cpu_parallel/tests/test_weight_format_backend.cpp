// Chapter 08: a whole model with its matrices in bf16 or q8 (WeightFormatBackend), and the files
// that hold them (weight_files.h).
//
// The reference for bf16 and for q8 with float activations is exact in principle: such a model
// computes what a float model computes whose weights ARE the converted values (bf16 widened, s q).
// So its logits are compared with those of a FastCpuBackend model given the widened weights,
// with chapter 08's tolerance for two float computations of the same function (1e-5, relative).
// With the activations quantized too (q8q8) there is no such float twin; its products are checked
// against their plain loops in test_weight_formats.cpp, and here the model's prefill + decode
// against its own full forward pass, and its logits against the q8 model's within the size of
// the activations' quantization step.
#include <cmath>
#include <filesystem>
#include <functional>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "chapters/08_cpu_parallel/weight_files.h"
#include "chapters/08_cpu_parallel/weight_format_backend.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {

namespace fs = std::filesystem;
using gpt2::Q8Activations;
using gpt2::WeightFormat;

// Small, with C = 48: each row of a C-input matrix is one whole q8 block and one half block.
gpt2::GPT2Config small_config() {
  return gpt2::GPT2Config::make(/*n_layer=*/2, /*n_head=*/2, /*n_embd=*/48, /*n_positions=*/32,
                                /*vocab_size=*/97);
}

std::vector<int> tokens(int n, int V, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<int> t(static_cast<size_t>(n));
  for (int& x : t) x = static_cast<int>(rng.below(static_cast<uint64_t>(V)));
  return t;
}

// The float parameters a converted model stands for: its float buffer with every converted matrix
// replaced by the widened copy the backend holds.
std::vector<float> widened_params(const gpt2::GPT2& model, const gpt2::WeightFormatBackend& backend) {
  std::vector<float> p(model.params().begin(), model.params().end());
  for (const gpt2::ParamSpec& s : model.layout().specs()) {
    if (!gpt2::is_converted_matrix(s)) continue;
    const float* handle = model.params().data() + s.offset;
    const bool conv1d = gpt2::converted_view(s, nullptr).conv1d;
    if (const auto* b = backend.bf16_weight(handle)) gpt2::from_bf16(*b, p.data() + s.offset, conv1d);
    if (const auto* q = backend.q8_weight(handle)) gpt2::from_q8(*q, p.data() + s.offset, conv1d);
  }
  return p;
}

// Logits of the full forward pass over `t` (B = 1): every position's.
std::vector<float> full_logits(gpt2::GPT2& model, const std::vector<int>& t) {
  model.forward(t.data(), nullptr, 1, static_cast<int>(t.size()));
  return {model.logits().begin(), model.logits().end()};
}

// The same positions' logits from a prefill of the first `prefill` tokens (all their logits) and
// then one decode step per token.
std::vector<float> cached_logits(gpt2::GPT2& model, const std::vector<int>& t, int prefill) {
  gpt2::KVCache cache(model.config(), model.backend());
  auto first = model.forward(cache, t.data(), 1, prefill, /*all_logits=*/true);
  std::vector<float> out(first.begin(), first.end());
  for (size_t i = static_cast<size_t>(prefill); i < t.size(); ++i) {
    auto step = model.forward(cache, &t[i], 1, 1);
    out.insert(out.end(), step.begin(), step.end());
  }
  return out;
}

void check_close(const std::vector<float>& a, const std::vector<float>& b, double tol,
                 const std::string& what) {
  auto r = gpt2::rel_close(a, b, tol, what);
  INFO(r.message);
  CHECK(r.ok);
}

}  // namespace

// In f32 the backend holds the Conv1D weights a second time, tiled for the decode steps
// (matvec.h); the model must not notice, on any kernel set.
TEST_CASE("WeightFormatBackend in f32 computes exactly what FastCpuBackend computes", "[formats][model]") {
  const gpt2::GPT2Config config = small_config();
  const auto t = tokens(20, config.vocab_size, 1);
  for (gpt2::Simd level : ch08_test::levels()) {
    INFO(gpt2::simd_name(level));
    ch08_test::with(2, level, [&] {
      gpt2::FastCpuBackend fast;
      gpt2::WeightFormatBackend f32(WeightFormat::f32);
      gpt2::GPT2 a(config, fast), b(config, f32);
      a.init_random(5);
      b.init_random(5);
      f32.convert_weights(b);
      // The 4 Conv1D weights of each of the 2 blocks; wte is read row by row and stays as it is.
      CHECK(f32.converted_count() == 8);
      CHECK(f32.converted_bytes() == sizeof(float) * 2 * (48 * 144 + 48 * 48 + 48 * 192 + 192 * 48));
      CHECK(ch08_test::same_bits({a.params().begin(), a.params().end()},
                                 {b.params().begin(), b.params().end()}));
      CHECK(ch08_test::same_bits(full_logits(a, t), full_logits(b, t)));
      CHECK(ch08_test::same_bits(cached_logits(a, t, 7), cached_logits(b, t, 7)));
      CHECK(ch08_test::same_bits(cached_logits(a, t, 1), cached_logits(b, t, 1)));
    });
  }
}

TEST_CASE("bf16 and q8 models compute the float model of their widened weights", "[formats][model]") {
  const gpt2::GPT2Config config = small_config();
  const auto t = tokens(24, config.vocab_size, 2);
  for (WeightFormat format : {WeightFormat::bf16, WeightFormat::q8}) {
    for (gpt2::Simd level : ch08_test::levels()) {
      INFO(gpt2::weight_format_name(format) << ", " << gpt2::simd_name(level));
      ch08_test::with(2, level, [&] {
        gpt2::WeightFormatBackend backend(format);
        gpt2::GPT2 model(config, backend);
        model.init_random(6);
        backend.convert_weights(model);
        // wte and the 4 matrices of each of the 2 blocks.
        CHECK(backend.converted_count() == 9);
        gpt2::FastCpuBackend fast;
        gpt2::GPT2 twin(config, fast);
        twin.set_params(widened_params(model, backend));
        // Full forward (24 rows: the gemm panels), prefill (7 rows) and decode steps (1 row: dot products).
        check_close(full_logits(model, t), full_logits(twin, t), 1e-5, "full forward");
        check_close(cached_logits(model, t, 7), full_logits(twin, t), 1e-5, "prefill + decode");
        check_close(cached_logits(model, t, 3), full_logits(twin, t), 1e-5, "prefill of 3 (dot products)");
      });
    }
  }
}

TEST_CASE("q8 with quantized activations: prefill + decode equal the full pass, close to q8",
          "[formats][model]") {
  const gpt2::GPT2Config config = small_config();
  const auto t = tokens(24, config.vocab_size, 3);
  for (gpt2::Simd level : ch08_test::levels()) {
    INFO(gpt2::simd_name(level));
    ch08_test::with(2, level, [&] {
      gpt2::WeightFormatBackend q8q8(WeightFormat::q8, Q8Activations::q8), q8(WeightFormat::q8);
      gpt2::GPT2 model(config, q8q8), reference(config, q8);
      model.init_random(7);
      reference.init_random(7);
      q8q8.convert_weights(model);
      q8.convert_weights(reference);
      const auto full = full_logits(model, t);
      // Each output is the same dot product of the same quantized rows whatever the number of rows;
      // only the attention over the cache adds its float rounding (1e-5 in the f32 tests).
      check_close(cached_logits(model, t, 5), full, 1e-5, "q8q8 prefill + decode vs full");
      // Quantizing the activations moves each product by at most t / 2 per activation, t = max|x| / 127
      // per block: about 0.4% of each input; through the 2 blocks the logits move by a few tenths of a
      // percent.
      check_close(full, full_logits(reference, t), 2e-2, "q8q8 vs q8");
    });
  }
}

TEST_CASE("converted models give the same bits with 1 and 2 threads", "[formats][model]") {
  const gpt2::GPT2Config config = small_config();
  const auto t = tokens(12, config.vocab_size, 4);
  for (auto [format, activations] :
       {std::pair{WeightFormat::bf16, Q8Activations::f32}, std::pair{WeightFormat::q8, Q8Activations::f32},
        std::pair{WeightFormat::q8, Q8Activations::q8}}) {
    gpt2::WeightFormatBackend backend(format, activations);
    gpt2::GPT2 model(config, backend);
    model.init_random(8);
    backend.convert_weights(model);
    std::vector<float> one, two;
    ch08_test::with(1, gpt2::active_simd(), [&] { one = cached_logits(model, t, 6); });
    ch08_test::with(2, gpt2::active_simd(), [&] { two = cached_logits(model, t, 6); });
    INFO(backend.name());
    CHECK(ch08_test::same_bits(one, two));
  }
}

TEST_CASE("a converted weight refuses the backward pass", "[formats][model]") {
  const gpt2::GPT2Config config = small_config();
  for (WeightFormat format : {WeightFormat::q8, WeightFormat::f32}) {
    gpt2::WeightFormatBackend backend(format);
    gpt2::GPT2 model(config, backend);
    model.init_random(9);
    backend.convert_weights(model);
    model.set_mode(gpt2::GPT2::Mode::training);
    const auto t = tokens(8, config.vocab_size, 5);
    model.forward(t.data(), t.data(), 1, 8);
    model.zero_grad();
    CHECK_THROWS_WITH(model.backward(), Catch::Contains(gpt2::cat("has a ", gpt2::weight_format_name(format),
                                                                  " copy for inference only")));
  }
}

// ---- Files ---------------------------------------------------------------------------------

namespace {

// A saved model directory of the small config (weights from `seed`), in `format`.
fs::path saved(const std::string& name, WeightFormat format, uint64_t seed) {
  const fs::path dir = gpt2::test_temp_dir("formats_" + name);
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model(small_config(), cpu);
  model.init_random(seed);
  gpt2::save_model_dir_as(model, dir, format);
  return dir;
}

// Rewrites dir/model.safetensors tensor by tensor through `edit(name, info, file, writer)`, which
// adds what it wants in place of the tensor (returning false keeps the tensor as it was).
using Edit = std::function<bool(const std::string&, const gpt2::SafetensorsFile&, gpt2::SafetensorsWriter&)>;
void rewrite(const fs::path& dir, const Edit& edit,
             const std::map<std::string, std::string>& metadata_changes = {}) {
  const gpt2::SafetensorsFile file = gpt2::SafetensorsFile::open(dir / "model.safetensors");
  gpt2::SafetensorsWriter writer;
  for (const auto& [k, v] : file.metadata()) writer.set_metadata(k, v);
  for (const auto& [k, v] : metadata_changes) writer.set_metadata(k, v);
  for (const std::string& name : file.names()) {
    if (edit(name, file, writer)) continue;
    const gpt2::TensorInfo& info = file.info(name);
    if (info.dtype == gpt2::DType::I8) {
      writer.add_int8(name, info.shape, file.get_int8(name));
    } else {
      writer.add(name, file.get(name), info.dtype);
    }
  }
  writer.write(dir / "model.safetensors");
}

}  // namespace

TEST_CASE("a q8 model directory loads back with the same q8 values and the same logits", "[formats][files]") {
  const gpt2::GPT2Config config = small_config();
  const auto t = tokens(10, config.vocab_size, 6);
  gpt2::WeightFormatBackend backend(WeightFormat::q8);
  gpt2::GPT2 model(config, backend);
  model.init_random(10);
  backend.convert_weights(model);
  const fs::path dir = gpt2::test_temp_dir("formats_q8_round_trip");
  gpt2::save_model_dir_as(model, dir, WeightFormat::q8);
  CHECK(gpt2::stored_weight_format(dir) == WeightFormat::q8);
  CHECK(fs::exists(dir / "config.json"));

  gpt2::WeightFormatBackend loaded_backend(WeightFormat::q8);
  gpt2::GPT2 loaded = gpt2::load_model_dir_for_inference(dir, loaded_backend);
  for (const gpt2::ParamSpec& s : model.layout().specs()) {
    if (!gpt2::is_converted_matrix(s)) continue;
    const gpt2::Q8Matrix* a = backend.q8_weight(model.params().data() + s.offset);
    const gpt2::Q8Matrix* b = loaded_backend.q8_weight(loaded.params().data() + s.offset);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->q == b->q);
    CHECK(a->scales == b->scales);
  }
  CHECK(ch08_test::same_bits(full_logits(model, t), full_logits(loaded, t)));
  // Saved again from the loaded model: the same file.
  const fs::path again = gpt2::test_temp_dir("formats_q8_round_trip_again");
  gpt2::save_model_dir_as(loaded, again, WeightFormat::q8);
  CHECK(gpt2::read_file(dir / "model.safetensors") == gpt2::read_file(again / "model.safetensors"));

  // Loaded as float (dequantized): the float model of the q8 weights.
  gpt2::FastCpuBackend fast;
  gpt2::GPT2 as_float = gpt2::load_model_dir_for_inference(dir, fast);
  const std::vector<float> widened = widened_params(model, backend);
  CHECK(ch08_test::same_bits({as_float.params().begin(), as_float.params().end()}, widened));
  // Chapter 05's reader (training, fine-tuning) refuses it and says how to dequantize.
  CHECK_THROWS_WITH(gpt2::GPT2::load(dir, fast),
                    Catch::Contains("holds weights in the format 'q8'") &&
                        Catch::Contains("gpt2 quantize --model DIR --out NEW_DIR --weights f32"));
}

TEST_CASE("a bf16 model directory is an ordinary checkpoint of the rounded weights", "[formats][files]") {
  const fs::path dir = saved("bf16", WeightFormat::bf16, 11);
  CHECK(gpt2::stored_weight_format(dir) == WeightFormat::bf16);
  const gpt2::SafetensorsFile file = gpt2::SafetensorsFile::open(dir / "model.safetensors");
  CHECK(file.info("h.0.attn.c_attn.weight").dtype == gpt2::DType::BF16);
  CHECK(file.info("h.0.ln_1.weight").dtype == gpt2::DType::F32);
  CHECK(file.metadata().at("format") == "pt");
  // Chapter 05 reads it, widening exactly; it equals the original rounded to bf16.
  gpt2::CpuBackend cpu;
  gpt2::GPT2 original(small_config(), cpu);
  original.init_random(11);
  gpt2::GPT2 loaded = gpt2::GPT2::load(dir, cpu);
  for (const gpt2::ParamSpec& s : original.layout().specs()) {
    const gpt2::Tensor a = original.param(s.name), b = loaded.param(s.name);
    for (int64_t i = 0; i < a.numel(); ++i) {
      const float expected =
          gpt2::is_converted_matrix(s) ? gpt2::bf16_to_float(gpt2::float_to_bf16(a.span()[i])) : a.span()[i];
      REQUIRE(b.span()[i] == expected);
    }
  }
}

TEST_CASE("broken q8 files: one clear error naming the file and the tensor", "[formats][files]") {
  const std::string file_name = "model.safetensors";
  const std::string W = "h.1.mlp.c_fc.weight";  // (C, 4C) = (48, 192): 192 rows of 2 blocks
  auto broken = [&](const std::string& what, const Edit& edit,
                    const std::map<std::string, std::string>& meta = {}) {
    const fs::path dir = saved("broken", WeightFormat::q8, 12);
    rewrite(dir, edit, meta);
    gpt2::WeightFormatBackend backend(WeightFormat::q8);
    INFO(what);
    try {
      gpt2::load_model_dir_for_inference(dir, backend);
      FAIL("no error for " << what);
    } catch (const gpt2::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto replace_int8 = [&](const std::string& target,
                          const std::function<void(std::vector<int8_t>&, gpt2::Shape&)>& f) {
    return [=](const std::string& name, const gpt2::SafetensorsFile& file, gpt2::SafetensorsWriter& w) {
      if (name != target) return false;
      std::vector<int8_t> v = file.get_int8(name);
      gpt2::Shape shape = file.info(name).shape;
      f(v, shape);
      w.add_int8(name, shape, v);
      return true;
    };
  };
  auto replace_scales = [&](const std::function<void(std::vector<float>&, gpt2::Shape&)>& f) {
    return [=](const std::string& name, const gpt2::SafetensorsFile& file, gpt2::SafetensorsWriter& w) {
      if (name != W + ".q8_scales") return false;
      std::vector<float> v = file.get_vector(name);
      gpt2::Shape shape = file.info(name).shape;
      f(v, shape);
      w.add(name, shape, v);
      return true;
    };
  };

  std::string e = broken("a scale is NaN", replace_scales([](auto& v, auto&) { v[5] = NAN; }));
  CHECK_THAT(e, Catch::Contains(file_name) && Catch::Contains("'" + W + ".q8_scales' holds nan at [2, 1]"));
  e = broken("a scale is negative", replace_scales([](auto& v, auto&) { v[0] = -1.0f; }));
  CHECK_THAT(e, Catch::Contains("'" + W + ".q8_scales' holds -1 at [0, 0]"));
  e = broken("one block too many per row", replace_scales([](auto& v, auto& shape) {
               shape[1] = 3;
               v.resize(static_cast<size_t>(shape[0] * 3));
             }));
  CHECK_THAT(e, Catch::Contains("'" + W + ".q8_scales' has shape [192, 3], expected [192, 2]"));
  e = broken("the values have the wrong row length", replace_int8(W + ".q8", [](auto& v, auto& shape) {
               shape[1] = 32;
               v.resize(static_cast<size_t>(shape[0] * 32));
             }));
  CHECK_THAT(e, Catch::Contains("'" + W + ".q8' has shape [192, 32], expected [192, 64]"));
  e = broken("a value is -128", replace_int8(W + ".q8", [](auto& v, auto&) { v[70] = -128; }));
  CHECK_THAT(e, Catch::Contains("'" + W + ".q8' holds -128 at [1, 6]"));
  const std::string Q = "h.0.attn.c_attn.weight";  // (48, 144): 144 rows of 48 inputs, padded to 64
  e = broken("the padding is not zero", replace_int8(Q + ".q8", [](auto& v, auto&) { v[64 + 50] = 3; }));
  CHECK_THAT(e, Catch::Contains("'" + Q + ".q8' holds 3 at [1, 50], past the matrix's 48 columns"));
  e = broken("scales stored as int8",
             [&](const std::string& name, const gpt2::SafetensorsFile& file, gpt2::SafetensorsWriter& w) {
               if (name != W + ".q8_scales") return false;
               w.add_int8(name, file.info(name).shape, std::vector<int8_t>(static_cast<size_t>(192 * 2), 1));
               return true;
             });
  CHECK_THAT(e, Catch::Contains("'" + W + ".q8_scales' has dtype I8, expected F32"));
  e = broken("a missing tensor", [&](const std::string& name, const gpt2::SafetensorsFile&,
                                     gpt2::SafetensorsWriter&) { return name == W + ".q8_scales"; });
  CHECK_THAT(e, Catch::Contains("missing tensor '" + W + ".q8_scales'"));
  e = broken("a float matrix in a q8 file",
             [&](const std::string& name, const gpt2::SafetensorsFile& file, gpt2::SafetensorsWriter& w) {
               if (name != "ln_f.bias") return false;
               w.add(name, file.get(name));
               w.add(W, {48, 192}, std::vector<float>(48 * 192, 0.0f));
               return true;
             });
  CHECK_THAT(e, Catch::Contains("unexpected tensor '" + W + "' in a q8 file"));
  e = broken("another block size",
             [](const std::string&, const gpt2::SafetensorsFile&, gpt2::SafetensorsWriter&) { return false; },
             {{gpt2::kQ8BlockMetadataKey, "64"}});
  CHECK_THAT(e, Catch::Contains("metadata 'gpt2_q8_block' is '64'; this program reads q8 blocks of 32"));
  e = broken("an unknown format",
             [](const std::string&, const gpt2::SafetensorsFile&, gpt2::SafetensorsWriter&) { return false; },
             {{gpt2::kWeightsMetadataKey, "q4"}});
  CHECK_THAT(e, Catch::Contains("metadata 'gpt2_weights': unknown weight format 'q4'"));
  e = broken("a NaN bias",
             [&](const std::string& name, const gpt2::SafetensorsFile& file, gpt2::SafetensorsWriter& w) {
               if (name != "h.0.ln_2.bias") return false;
               std::vector<float> v = file.get_vector(name);
               v[3] = NAN;
               w.add(name, file.info(name).shape, v);
               return true;
             });
  CHECK_THAT(e, Catch::Contains("tensor 'h.0.ln_2.bias' holds nan at element 3"));
}

TEST_CASE("broken bf16 files: one clear error naming the file and the tensor", "[formats][files]") {
  const std::string W = "h.1.mlp.c_fc.weight";  // (48, 192), stored as BF16
  auto broken = [&](const std::string& what, const Edit& edit) {
    const fs::path dir = saved("broken_bf16", WeightFormat::bf16, 13);
    rewrite(dir, edit);
    INFO(what);
    std::string message;
    for (WeightFormat format : {WeightFormat::bf16, WeightFormat::f32}) {
      gpt2::WeightFormatBackend backend(format);
      try {
        gpt2::load_model_dir_for_inference(dir, backend);
        FAIL("no error for " << what);
      } catch (const gpt2::Error& e) {
        if (!message.empty()) CHECK(message == e.what());  // the same error in every format
        message = e.what();
      }
    }
    return message;
  };
  auto replace_values = [&](float value) {
    return [=](const std::string& name, const gpt2::SafetensorsFile& file, gpt2::SafetensorsWriter& w) {
      if (name != W) return false;
      CHECK(file.info(name).dtype == gpt2::DType::BF16);
      std::vector<float> v = file.get_vector(name);
      v[200] = value;  // [1, 8]
      w.add(name, file.info(name).shape, v, gpt2::DType::BF16);
      return true;
    };
  };
  std::string e = broken("a NaN weight", replace_values(NAN));
  CHECK_THAT(e,
             Catch::Contains("model.safetensors") && Catch::Contains("'" + W + "' holds nan at element 200"));
  e = broken("an infinite weight", replace_values(INFINITY));
  CHECK_THAT(e, Catch::Contains("'" + W + "' holds inf at element 200"));
  e = broken("a matrix in int8 without its scales",
             [&](const std::string& name, const gpt2::SafetensorsFile& file, gpt2::SafetensorsWriter& w) {
               if (name != W) return false;
               w.add_int8(name, file.info(name).shape, std::vector<int8_t>(48 * 192, 1));
               return true;
             });
  CHECK_THAT(e, Catch::Contains("'" + W + "' has dtype I8, expected F32, F16 or BF16"));
  e = broken("a matrix of the wrong shape",
             [&](const std::string& name, const gpt2::SafetensorsFile&, gpt2::SafetensorsWriter& w) {
               if (name != W) return false;
               w.add(name, {192, 48}, std::vector<float>(48 * 192, 0.5f), gpt2::DType::BF16);
               return true;
             });
  CHECK_THAT(e, Catch::Contains("'" + W + "' has shape [192, 48], expected [48, 192]"));
}
