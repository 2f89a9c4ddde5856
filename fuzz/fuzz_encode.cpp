// Fuzz target: encoding arbitrary bytes (invalid UTF-8 included) with GPT-2's tokenizer and with
// a BPE trained on the input itself (chapter 01's train_bpe): decode(encode(x)) == x always, with
// and without special tokens, and encode() equals the textbook BPE of each pre-token.
#include <string>

#include "chapters/01_tokenizer/pretokenize.h"
#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "common/testing.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gpt2::Tokenizer gpt2_tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(gpt2_tok.decode(gpt2_tok.encode(text)) == text);
  FUZZ_CHECK(gpt2_tok.decode(gpt2_tok.encode(text, /*allow_special=*/true)) == text);
  // encode() (with its caches and whole-token shortcut) == the textbook BPE of each pre-token.
  std::vector<int> textbook;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = gpt2::next_pretoken_end(text, pos);
    FUZZ_CHECK(end > pos && end <= text.size());
    const std::vector<int> ids = gpt2_tok.bpe(text.substr(pos, end - pos));
    textbook.insert(textbook.end(), ids.begin(), ids.end());
    pos = end;
  }
  FUZZ_CHECK(gpt2_tok.encode(text) == textbook);
  const gpt2::Tokenizer trained = gpt2::train_bpe(text, 256 + static_cast<int>(size % 64));
  FUZZ_CHECK(trained.decode(trained.encode(text)) == text);
  FUZZ_CHECK(trained.decode(trained.encode(text, /*allow_special=*/true)) == text);
  return 0;
}
