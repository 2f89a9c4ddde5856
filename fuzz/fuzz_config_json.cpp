// Fuzz target: config.json (chapter 05's parse_config_json) and, when the input holds a NUL byte,
// the weights after it checked against that configuration and read (read_hf_model), as
// `gpt2 generate --model DIR` reads a model directory. A configuration that parses must write
// and parse back to itself; a model that loads holds only finite weights.
#include <cmath>
#include <string>

#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/hf_checkpoint.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [config_text, weights] =
      gpt2_fuzz::split_at_nul(std::string_view(reinterpret_cast<const char*>(data), size));
  gpt2::GPT2Config config;
  try {
    config = gpt2::parse_config_json(std::string(config_text), "config.json");
  } catch (const gpt2::Error&) {
    return 0;
  }
  FUZZ_CHECK(gpt2::parse_config_json(gpt2::config_to_json(config), "rewritten config.json") == config);
  if (weights.empty()) return 0;
  try {
    const gpt2::SafetensorsFile file =
        gpt2::SafetensorsFile::parse(std::string(weights), "model.safetensors");
    const gpt2::HFModel model = gpt2::read_hf_model(config, file, "config.json");
    FUZZ_CHECK(model.params.numel() == gpt2::ParameterLayout(config).num_parameters());
    for (float x : model.params.span()) FUZZ_CHECK(std::isfinite(x));
  } catch (const gpt2::Error&) {
  }
  return 0;
}
