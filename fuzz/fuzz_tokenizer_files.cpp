// Fuzz target: a tokenizer directory (chapter 01's Tokenizer::load and find_tokenizer_files).
// The input is a naming byte, then the vocabulary file, a NUL byte, and the merges file. The
// naming byte puts them under OpenAI's names, Hugging Face's, or both (the same files, or the
// second pair with its merges cut short: two different tokenizers). A tokenizer that loads must
// encode and decode its own files' text back to the same bytes.
#include <string>

#include "chapters/01_tokenizer/tokenizer.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace fs = std::filesystem;
  const int naming = data[0] % 4;
  const auto [vocab, merges] =
      gpt2_fuzz::split_at_nul(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  const fs::path dir = gpt2_fuzz::scratch_dir() / "tokenizer";
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (naming != 1) {
    gpt2_fuzz::write_bytes(dir / "encoder.json", vocab);
    gpt2_fuzz::write_bytes(dir / "vocab.bpe", merges);
  }
  if (naming != 0) {
    gpt2_fuzz::write_bytes(dir / "vocab.json", vocab);
    gpt2_fuzz::write_bytes(dir / "merges.txt", naming == 3 ? merges.substr(0, merges.size() / 2) : merges);
  }
  try {
    const gpt2::Tokenizer tok = gpt2::Tokenizer::load(dir);
    FUZZ_CHECK(tok.vocab_size() >= 256);
    for (const std::string_view text : {vocab, merges}) {
      FUZZ_CHECK(tok.decode(tok.encode(text)) == text);
      FUZZ_CHECK(tok.decode(tok.encode(text, /*allow_special=*/true)) == text);
    }
  } catch (const gpt2::Error&) {
  }
  return 0;
}
