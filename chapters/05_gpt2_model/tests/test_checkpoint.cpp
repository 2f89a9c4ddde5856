// Chapter 05: reading and writing the Hugging Face GPT-2 layout.
//
// The checkpoints in tests/fixtures/05_hf_tiny*/ were written by tests/reference/05_model.py the
// way GPT2LMHeadModel.state_dict() names them ('transformer.' prefix, lm_head.weight, the
// attn.bias / attn.masked_bias buffers), in F32, F16 and BF16.
#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using gpt2::GPT2Config;

namespace {

fs::path fixture(const std::string& name) {
  return fs::path(gpt2::fixture_dir()) / name;
}

// A fresh empty directory under the system's temporary directory, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("gpt2_test05_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const gpt2::Error& e) {
    return e.what();
  }
  return "no error";
}

// A copy of the tiny F32 model directory with its model.safetensors replaced by `bytes`.
void write_dir(const fs::path& dir, const std::string& weights, const std::string& config = "") {
  fs::create_directories(dir);
  gpt2::write_file_atomic(dir / "config.json",
                          config.empty() ? gpt2::read_file(fixture("05_hf_tiny/config.json")) : config);
  gpt2::write_file_atomic(dir / "model.safetensors", weights);
}

// The tiny F32 checkpoint rebuilt with our writer, with `edit` applied to the list of tensors.
std::string rebuilt(const std::function<void(std::vector<std::pair<std::string, gpt2::Tensor>>&)>& edit) {
  auto f = gpt2::SafetensorsFile::open(fixture("05_hf_tiny/model.safetensors"));
  std::vector<std::pair<std::string, gpt2::Tensor>> tensors;
  for (const std::string& n : f.names()) tensors.emplace_back(n, f.get(n));
  edit(tensors);
  gpt2::SafetensorsWriter w;
  for (auto& [n, t] : tensors) w.add(n, t);
  return w.serialize();
}

}  // namespace

TEST_CASE("05 checkpoint: reads the PyTorch-written F32 model with prefix, lm_head and buffers",
          "[checkpoint]") {
  gpt2::HFModel m = gpt2::read_hf_model_dir(fixture("05_hf_tiny"));
  CHECK(m.config.same_shape(GPT2Config::make(2, 4, 64, 32, 97)));
  CHECK(m.config.dropout == gpt2::DropoutConfig{0.1f, 0.1f, 0.1f});  // transformers' config.json says so
  gpt2::ParameterLayout layout(m.config);
  REQUIRE(m.params.numel() == layout.num_parameters());
  // Every parameter, bit for bit, as stored (read through a plain SafetensorsFile).
  auto f = gpt2::SafetensorsFile::open(fixture("05_hf_tiny/model.safetensors"));
  for (const auto& s : layout.specs()) {
    INFO(s.name);
    std::vector<float> stored = f.get_vector("transformer." + s.name);
    CHECK(std::memcmp(stored.data(), m.params.data() + s.offset, stored.size() * 4) == 0);
  }
}

TEST_CASE("05 checkpoint: F16 and BF16 checkpoints read as the rounded F32 weights", "[checkpoint]") {
  gpt2::HFModel f32 = gpt2::read_hf_model_dir(fixture("05_hf_tiny"));
  gpt2::HFModel f16 = gpt2::read_hf_model_dir(fixture("05_hf_tiny_f16"));
  gpt2::HFModel bf16 = gpt2::read_hf_model_dir(fixture("05_hf_tiny_bf16"));  // no prefix, no lm_head
  REQUIRE(f16.params.numel() == f32.params.numel());
  REQUIRE(bf16.params.numel() == f32.params.numel());
  // Round to nearest keeps the relative error below half a unit in the last place:
  // 2^-11 for F16 (10 stored mantissa bits), 2^-8 for BF16 (7 bits). Below F16's smallest normal
  // number 2^-14 the spacing is fixed at 2^-24, so there the bound is absolute: 2^-25.
  auto a = f32.params.span(), h = f16.params.span(), b = bf16.params.span();
  double worst16 = 0, worst16_subnormal = 0, worstbf = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == 0) continue;
    double e16 = std::fabs(static_cast<double>(h[i]) - a[i]);
    if (std::fabs(a[i]) < std::ldexp(1.0, -14)) {
      worst16_subnormal = std::max(worst16_subnormal, e16);
    } else {
      worst16 = std::max(worst16, e16 / std::fabs(a[i]));
    }
    worstbf = std::max(worstbf, std::fabs(static_cast<double>(b[i]) - a[i]) / std::fabs(a[i]));
  }
  CHECK(worst16 <= std::ldexp(1.0, -11));
  CHECK(worst16_subnormal <= std::ldexp(1.0, -25));
  CHECK(worst16 > 0);  // the F16 file really is rounded
  CHECK(worstbf <= std::ldexp(1.0, -8));
}

TEST_CASE("05 checkpoint: a bad checkpoint gives a clear error naming the problem", "[checkpoint]") {
  TempDir tmp("bad");
  const std::string good = gpt2::read_file(fixture("05_hf_tiny/model.safetensors"));
  auto load_error = [&](const std::string& weights, const std::string& config = "") {
    fs::path dir = tmp.path / "m";
    fs::remove_all(dir);
    write_dir(dir, weights, config);
    return error_of([&] { gpt2::read_hf_model_dir(dir); });
  };
  const std::string st = (tmp.path / "m" / "model.safetensors").string();
  const std::string cj = (tmp.path / "m" / "config.json").string();

  CHECK(load_error(good) == "no error");

  SECTION("truncated file") {
    std::string e = load_error(good.substr(0, good.size() - 1000));
    CHECK_THAT(e, Catch::Matchers::StartsWith(st + ": tensor '"));
    CHECK_THAT(e, Catch::Matchers::EndsWith("the file may be truncated)"));
  }
  SECTION("header length past the end of the file") {
    std::string bad = good;
    uint64_t n = 1ull << 40;
    std::memcpy(bad.data(), &n, 8);
    CHECK(load_error(bad) == st + ": header length 1099511627776 runs past the end of the file (" +
                                 std::to_string(bad.size()) + " bytes)");
  }
  SECTION("unknown dtype") {
    std::string bad = good;
    size_t at = bad.find("\"F32\"");
    REQUIRE(at != std::string::npos);
    bad.replace(at, 5, "\"Q32\"");
    CHECK_THAT(load_error(bad),
               Catch::Matchers::EndsWith(
                   "has unsupported dtype 'Q32' (supported: F32, F16, BF16, F64, I64, I32, BOOL, U8, I8)"));
  }
  SECTION("a non-float dtype") {
    std::string bad = rebuilt([](auto& ts) { ts.emplace_back("h.0.attn.masked_bias", gpt2::Tensor({1})); });
    (void)bad;  // buffers are ignored whatever their type: this one still loads
    CHECK(load_error(bad) == "no error");
    gpt2::SafetensorsWriter w;
    auto f = gpt2::SafetensorsFile::parse(good, "x");
    for (const std::string& n : f.names()) {
      if (n == "transformer.wpe.weight") {
        std::vector<int64_t> ids(32 * 64, 1);
        w.add_int64(n, {32, 64}, ids);
      } else {
        w.add(n, f.get(n));
      }
    }
    CHECK(load_error(w.serialize()) ==
          st + ": tensor 'transformer.wpe.weight' has dtype I64, expected F32, F16 or BF16");
  }
  SECTION("missing tensor") {
    std::string bad = rebuilt([](auto& ts) {
      std::erase_if(ts, [](auto& p) { return p.first == "transformer.h.1.mlp.c_fc.bias"; });
    });
    CHECK(load_error(bad) == st + ": missing tensor 'h.1.mlp.c_fc.bias'");
  }
  SECTION("wrong shape") {
    std::string bad = rebuilt([](auto& ts) {
      for (auto& [n, t] : ts) {
        if (n == "transformer.h.0.attn.c_attn.weight")
          t = t.transpose(0, 1).contiguous();  // nn.Linear's layout
      }
    });
    CHECK(load_error(bad) ==
          st +
              ": tensor 'transformer.h.0.attn.c_attn.weight' has shape [192, 64], expected "
              "[64, 192] for L=2 NH=4 C=64 maxT=32 V=97 (from " +
              cj + ")");
  }
  SECTION("config and tensors disagree") {
    std::string cfg = gpt2::read_file(fixture("05_hf_tiny/config.json"));
    auto j = nlohmann::json::parse(cfg);
    j["n_layer"] = 1;
    CHECK(load_error(good, j.dump()) ==
          cj + ": n_layer is 1, but " + st + " holds the blocks of 2 layers (h.0 .. h.1)");
    j["n_layer"] = 3;
    CHECK(load_error(good, j.dump()) ==
          cj + ": n_layer is 3, but " + st + " holds the blocks of 2 layers (h.0 .. h.1)");
    j["n_layer"] = 2;
    j["n_embd"] = 128;
    CHECK(load_error(good, j.dump()) ==
          cj + ": n_embd is 128, but " + st + ": 'transformer.wte.weight' has shape [97, 64]");
    // read_hf_weights on its own (a layout from elsewhere) still names both sides.
    auto f = gpt2::SafetensorsFile::parse(good, "w.safetensors");
    gpt2::ParameterLayout one_layer(GPT2Config::make(1, 4, 64, 32, 97));
    std::vector<float> params(static_cast<size_t>(one_layer.num_parameters()));
    CHECK(error_of([&] { gpt2::read_hf_weights(f, one_layer, params, "c.json"); }) ==
          "w.safetensors: tensor 'transformer.h.1.attn.c_attn.bias' does not exist in a GPT-2 with 1 layers "
          "(c.json and the weights disagree)");
  }
  SECTION("absurd sizes in config.json: an error naming the file and the field, before any allocation") {
    // Checked against the limits and against the weights' header before the parameter buffer is
    // laid out, so none of these allocates more than the file itself (or takes more than a moment).
    auto j = nlohmann::json::parse(gpt2::read_file(fixture("05_hf_tiny/config.json")));
    auto with = [&](const char* key, int64_t value) {
      auto k = j;
      k[key] = value;
      return load_error(good, k.dump());
    };
    CHECK(with("n_layer", 2147483647) ==
          cj + ": n_layer = 2147483647 is more than this program supports (1024)");
    CHECK(with("n_layer", 1000) ==
          cj + ": n_layer is 1000, but " + st + " holds the blocks of 2 layers (h.0 .. h.1)");
    CHECK(with("vocab_size", 16777216) ==
          cj + ": vocab_size is 16777216, but " + st + ": 'transformer.wte.weight' has shape [97, 64]");
    CHECK(with("vocab_size", 1 << 30) ==
          cj + ": vocab_size = 1073741824 is more than this program supports (16777216)");
    CHECK(with("n_positions", 1 << 20) ==
          cj + ": n_positions is 1048576, but " + st + ": 'transformer.wpe.weight' has shape [32, 64]");
    auto k = j;
    k["n_embd"] = 16384;
    k["n_head"] = 4;
    CHECK(load_error(good, k.dump()) ==
          cj + ": n_embd is 16384, but " + st + ": 'transformer.wte.weight' has shape [97, 64]");
  }
  SECTION("NaN or infinite weights") {
    // A model with a NaN generates token 0 forever and evaluates to "loss nan": refuse it at load.
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      std::string weights = rebuilt([&](auto& ts) {
        for (auto& [n, t] : ts) {
          if (n == "transformer.h.1.mlp.c_fc.weight") t.data()[70] = bad;
        }
      });
      INFO(bad);
      CHECK(load_error(weights) ==
            st + ": tensor 'transformer.h.1.mlp.c_fc.weight' holds " +
                (std::isnan(bad) ? "nan"
                 : bad > 0       ? "inf"
                                 : "-inf") +
                " at element 70 (index [0, 70]): these weights are broken (a run that diverged?)");
    }
  }
  SECTION("non-JSON config") {
    CHECK_THAT(load_error(good, "n_layer = 2\n"), Catch::Matchers::StartsWith(cj + ": not valid JSON ("));
  }
  SECTION("an untied lm_head and an unexpected tensor") {
    std::string bad = rebuilt([](auto& ts) {
      for (auto& [n, t] : ts) {
        if (n == "lm_head.weight") t.data()[5] += 1.0f;
      }
    });
    CHECK_THAT(load_error(bad),
               Catch::Matchers::StartsWith(st + ": 'lm_head.weight' differs from 'wte.weight'"));
    bad = rebuilt([](auto& ts) { ts.emplace_back("transformer.h.0.attn.rotary", gpt2::Tensor({4})); });
    CHECK(load_error(bad) ==
          st + ": unexpected tensor 'transformer.h.0.attn.rotary' (not a GPT-2 parameter)");
  }
  SECTION("missing files") {
    CHECK(error_of([&] { gpt2::read_hf_model_dir(tmp.path / "nowhere"); }) ==
          "model directory '" + (tmp.path / "nowhere").string() + "' does not exist");
    fs::create_directories(tmp.path / "empty");
    CHECK_THAT(error_of([&] { gpt2::read_hf_model_dir(tmp.path / "empty"); }),
               Catch::Matchers::StartsWith("model directory '" + (tmp.path / "empty").string() +
                                           "' has no config.json"));
  }
}

TEST_CASE("05 checkpoint: what we write is the Hugging Face layout, byte for byte", "[checkpoint]") {
  // Write the PyTorch-made weights with our writer, then read our file back WITHOUT our reader:
  // parse the header with nlohmann::json and compare each tensor's bytes with the bytes of the
  // same tensor in the file PyTorch wrote.
  TempDir tmp("write");
  gpt2::HFModel m = gpt2::read_hf_model_dir(fixture("05_hf_tiny"));
  fs::path out = tmp.path / "model";
  gpt2::write_hf_model_dir(out, m.config, m.params.span(), fs::path(gpt2::data_dir()) / "gpt2");

  auto split = [](const std::string& bytes) {
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    return std::pair{nlohmann::json::parse(bytes.substr(8, n)), 8 + n};
  };
  const std::string ours = gpt2::read_file(out / "model.safetensors");
  const std::string theirs = gpt2::read_file(fixture("05_hf_tiny/model.safetensors"));
  auto [h_ours, start_ours] = split(ours);
  auto [h_theirs, start_theirs] = split(theirs);
  CHECK(start_ours % 8 == 0);  // data aligned to 8 bytes, as the reference writer does
  CHECK(h_ours["__metadata__"] == nlohmann::json{{"format", "pt"}});
  gpt2::ParameterLayout layout(m.config);
  CHECK(h_ours.size() == layout.specs().size() + 1);  // the parameters, nothing else
  uint64_t expected_offset = 0;
  for (const auto& s : layout.specs()) {
    INFO(s.name);
    REQUIRE(h_ours.contains(s.name));  // no prefix, like OpenAI's own file
    const auto& e = h_ours[s.name];
    CHECK(e["dtype"] == "F32");
    CHECK(e["shape"].get<gpt2::Shape>() == s.shape);
    auto off = e["data_offsets"].get<std::vector<uint64_t>>();
    CHECK(off[0] == expected_offset);  // tightly packed, in layout order
    CHECK(off[1] - off[0] == static_cast<uint64_t>(s.numel) * 4);
    expected_offset = off[1];
    auto toff = h_theirs["transformer." + s.name]["data_offsets"].get<std::vector<uint64_t>>();
    CHECK(ours.compare(start_ours + off[0], off[1] - off[0], theirs, start_theirs + toff[0],
                       toff[1] - toff[0]) == 0);
  }
  CHECK(ours.size() == start_ours + expected_offset);  // nothing after the last tensor

  auto config = nlohmann::json::parse(gpt2::read_file(out / "config.json"));
  CHECK(config["model_type"] == "gpt2");
  CHECK(config["architectures"] == nlohmann::json::array({"GPT2LMHeadModel"}));
  CHECK(config["n_layer"] == 2);
  CHECK(config["n_head"] == 4);
  CHECK(config["n_embd"] == 64);
  CHECK(config["n_positions"] == 32);
  CHECK(config["n_ctx"] == 32);
  CHECK(config["vocab_size"] == 97);
  CHECK(config["layer_norm_epsilon"] == 1e-5);
  CHECK(config["activation_function"] == "gelu_new");

  // The tokenizer files, under their Hugging Face names.
  CHECK(gpt2::read_file(out / "vocab.json") ==
        gpt2::read_file(fs::path(gpt2::data_dir()) / "gpt2/encoder.json"));
  CHECK(gpt2::read_file(out / "merges.txt") ==
        gpt2::read_file(fs::path(gpt2::data_dir()) / "gpt2/vocab.bpe"));
  CHECK(gpt2::has_tokenizer_files(out));

  // And our reader reads it back identically.
  gpt2::HFModel back = gpt2::read_hf_model_dir(out);
  CHECK(back.config == m.config);
  CHECK(std::memcmp(back.params.data(), m.params.data(), static_cast<size_t>(m.params.numel()) * 4) == 0);
}

TEST_CASE("05 checkpoint: the tokenizer copied into a model directory is the one Tokenizer::load reads",
          "[checkpoint]") {
  TempDir tmp("tokenizer_copy");
  const fs::path gpt2_dir = fs::path(gpt2::data_dir()) / "gpt2";
  // A directory with GPT-2's tokenizer under OpenAI's names and a different one (the tiny
  // fixture model's) under Hugging Face's names: which one is "the" tokenizer is ambiguous.
  const fs::path both = tmp.path / "both";
  fs::create_directories(both);
  for (const char* f : {"encoder.json", "vocab.bpe"}) fs::copy_file(gpt2_dir / f, both / f);
  for (const char* f : {"vocab.json", "merges.txt"}) fs::copy_file(fixture("12_tiny_model") / f, both / f);
  CHECK_THAT(error_of([&] { gpt2::copy_tokenizer_files(both, tmp.path / "model"); }),
             Catch::Matchers::Contains("holds two different tokenizers"));
  CHECK(!fs::exists(tmp.path / "model" / "vocab.json"));
  // Copied over a directory that holds another tokenizer under OpenAI's names, the copy replaces
  // it: the model directory then holds one pair, the copied one.
  const fs::path model = tmp.path / "model";
  fs::create_directories(model);
  for (const char* f : {"encoder.json", "vocab.bpe"}) fs::copy_file(gpt2_dir / f, model / f);
  gpt2::copy_tokenizer_files(fixture("12_tiny_model"), model);
  CHECK(!fs::exists(model / "encoder.json"));
  CHECK(!fs::exists(model / "vocab.bpe"));
  CHECK(gpt2::read_file(model / "merges.txt") == gpt2::read_file(fixture("12_tiny_model") / "merges.txt"));
}
