// LoRA inside the model (lora_model.h): PEFT's adapters give the PyTorch script's logits through
// the unmerged path; B = 0 gives the base model's logits bit for bit; merged weights give the
// unmerged logits within float rounding; the factors' gradients are those of the merged weight,
// and no base weight gets one.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/gpt2_trainable.h"
#include "chapters/10_finetuning/lora.h"
#include "chapters/10_finetuning/lora_adapter.h"
#include "chapters/10_finetuning/lora_model.h"
#include "chapters/10_finetuning/tests/helpers.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using ch10_test::check_rel;
using ch10_test::fixtures;
using ch10_test::ints;

namespace {

std::vector<float> logits(gpt2::GPT2& model, const std::vector<int>& tokens, int B, int T) {
  model.forward(tokens.data(), nullptr, B, T);
  return {model.logits().begin(), model.logits().end()};
}

// An adapter with random A and B (B = 0 is PEFT's start; these tests need a non-zero update).
gpt2::LoraAdapter random_adapter(const gpt2::GPT2Config& base, const std::vector<std::string>& targets, int r,
                                 uint64_t seed) {
  gpt2::LoraConfig c;
  c.r = r;
  c.lora_alpha = 2.0 * r;
  c.target_modules = targets;
  gpt2::LoraAdapter a = gpt2::LoraAdapter::create(c, base, seed);
  gpt2::Rng rng(seed + 1);
  for (auto& l : a.layers) rng.fill_normal(l.B.span(), 0.0f, 0.1f);
  return a;
}

}  // namespace

TEST_CASE("LoRA in the model: PEFT's adapters give the script's logits, unmerged", "[lora][peft][model]") {
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "10_peft_logits.safetensors");
  const std::vector<int> tokens = ints(f, "tokens");
  const int B = 2, T = 12;
  for (auto [dir, key] :
       {std::pair{"10_peft_adapter", "logits_lora"}, std::pair{"10_peft_adapter_rs", "logits_lora_rs"}}) {
    INFO(dir);
    for (gpt2::GPT2::Mode mode : {gpt2::GPT2::Mode::inference, gpt2::GPT2::Mode::training}) {
      gpt2::CpuBackend cpu;
      gpt2::GPT2 model = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);
      model.set_dropout({});
      gpt2::LoraModel lora(model, gpt2::read_lora_adapter(fixtures() / dir, model.config()));
      model.set_mode(mode);
      check_rel(logits(model, tokens, B, T), f.get_vector(key), 1e-5, "logits with the unmerged adapter");
    }
  }
}

TEST_CASE("LoRA in the model: B = 0 is the base model bit for bit; merged equals unmerged", "[lora][model]") {
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "10_peft_logits.safetensors");
  const std::vector<int> tokens = ints(f, "tokens");
  const int B = 2, T = 12;
  gpt2::CpuBackend cpu;
  gpt2::GPT2 base = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);
  base.set_dropout({});
  base.set_mode(gpt2::GPT2::Mode::training);
  const std::vector<float> base_logits = logits(base, tokens, B, T);
  {
    // PEFT's initialisation: A random, B = 0. Through the training path (every block kept).
    gpt2::GPT2 model = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);
    model.set_dropout({});
    gpt2::LoraConfig c;
    c.target_modules = {"c_attn", "c_proj", "c_fc"};  // all four kinds
    gpt2::LoraModel lora(model, gpt2::LoraAdapter::create(c, model.config(), 3));
    model.set_trainable_from(model.num_parameters());
    model.set_mode(gpt2::GPT2::Mode::training);
    const std::vector<float> l = logits(model, tokens, B, T);
    CHECK(l == base_logits);
  }
  // A non-zero update: unmerged (the hook) against merged into the weights (lora_merge).
  const gpt2::LoraAdapter a = random_adapter(base.config(), {"c_attn", "mlp.c_fc", "mlp.c_proj"}, 3, 5);
  gpt2::GPT2 unmerged = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);
  gpt2::LoraModel lora(unmerged, a);
  gpt2::GPT2 merged = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);
  gpt2::Tensor p = merged.params_to_host();
  gpt2::merge_lora_adapter(a, merged.layout(), p.span());
  merged.set_params(p.span());
  const std::vector<float> lu = logits(unmerged, tokens, B, T), lm = logits(merged, tokens, B, T);
  CHECK(lu != base_logits);
  check_rel(lu, lm, 1e-5, "unmerged against merged logits");
  // Generation through the KV cache runs the hook too.
  gpt2::KVCache cache(unmerged.config(), cpu);
  auto cached = unmerged.forward(cache, tokens.data(), 1, T, /*all_logits=*/true);
  check_rel(std::vector<float>(cached.begin(), cached.end()),
            std::vector<float>(lm.begin(), lm.begin() + T * 97), 1e-5,
            "cached unmerged against merged logits");
}

TEST_CASE("LoRA in the model: the factors' gradients are those of the merged weight; the base gets none",
          "[lora][model][gradient]") {
  // out = x (W + dW), dW = s A^T B^T, so with G = dL/dW (what full training of the merged model
  // gives): dL/dB = s (A G)^T and dL/dA = s (G B)^T. Twice backward adds twice.
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "05_model.safetensors");
  const std::vector<int> tokens = ints(f, "tokens"), targets = ints(f, "targets");
  const int B = 2, T = 32;
  gpt2::CpuBackend cpu;
  const gpt2::LoraAdapter a = random_adapter(
      gpt2::read_config_json(fixtures() / "05_hf_tiny" / "config.json"), {"c_attn", "attn.c_proj"}, 2, 8);
  gpt2::GPT2 merged = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);
  merged.set_dropout({});
  gpt2::Tensor p = merged.params_to_host();
  gpt2::merge_lora_adapter(a, merged.layout(), p.span());
  merged.set_params(p.span());
  merged.set_mode(gpt2::GPT2::Mode::training);
  const float loss_merged = merged.forward(tokens.data(), targets.data(), B, T);
  merged.zero_grad();
  merged.backward();

  gpt2::GPT2 model = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);
  model.set_dropout({});
  gpt2::LoraModel lora(model, a);
  model.set_trainable_from(model.num_parameters());  // only the adapters train
  model.set_mode(gpt2::GPT2::Mode::training);
  CHECK(model.grads().size() == static_cast<size_t>(lora.size()));  // no gradients for the base
  const float loss = model.forward(tokens.data(), targets.data(), B, T);
  CHECK(std::fabs(loss - loss_merged) <= 1e-5 * loss_merged);
  model.zero_grad();
  model.backward();
  const std::vector<float> once = model.grads_to_host().to_vector();
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const gpt2::LoraTarget& t = a.layers[i].target;
    INFO(t.path());
    const std::vector<float> G = merged.grad(t.path() + ".weight").to_vector();  // (in, out)
    const std::vector<float>& A = a.layers[i].A.to_vector();                     // (r, in)
    const std::vector<float>& Bm = a.layers[i].B.to_vector();                    // (out, r)
    std::vector<float> dA(static_cast<size_t>(t.r) * t.in), dB(static_cast<size_t>(t.out) * t.r);
    for (int j = 0; j < t.r; ++j)
      for (int c = 0; c < t.in; ++c) {
        double sum = 0;
        for (int o = 0; o < t.out; ++o)
          sum += G[static_cast<size_t>(c) * t.out + o] * Bm[static_cast<size_t>(o) * t.r + j];
        dA[static_cast<size_t>(j) * t.in + c] = static_cast<float>(t.scaling * sum);
      }
    for (int o = 0; o < t.out; ++o)
      for (int j = 0; j < t.r; ++j) {
        double sum = 0;
        for (int c = 0; c < t.in; ++c)
          sum += A[static_cast<size_t>(j) * t.in + c] * G[static_cast<size_t>(c) * t.out + o];
        dB[static_cast<size_t>(o) * t.r + j] = static_cast<float>(t.scaling * sum);
      }
    const std::vector<gpt2::ParamInfo> infos = lora.param_infos();
    const size_t a_at = infos[2 * i].offset, b_at = infos[2 * i + 1].offset;
    check_rel(std::span(once).subspan(a_at, dA.size()), dA, 1e-4, "dA");
    check_rel(std::span(once).subspan(b_at, dB.size()), dB, 1e-4, "dB");
  }
  model.backward();
  const std::vector<float> twice = model.grads_to_host().to_vector();
  std::vector<float> doubled = once;
  for (float& x : doubled) x *= 2;
  check_rel(twice, doubled, 1e-6, "a second backward adds");
  // to_adapter() gives back the factors as they are in the model.
  const gpt2::LoraAdapter back = lora.to_adapter();
  for (size_t i = 0; i < a.layers.size(); ++i) {
    CHECK(back.layers[i].A.to_vector() == a.layers[i].A.to_vector());
    CHECK(back.layers[i].B.to_vector() == a.layers[i].B.to_vector());
  }
}
