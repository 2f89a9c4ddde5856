// BPE training: against a naive reference trainer (recount everything after each merge),
// determinism, and that the trained tokenizer encodes with its merges in order.
#include <map>

#include "chapters/01_tokenizer/byte_unicode.h"
#include "chapters/01_tokenizer/pretokenize.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "common/timer.h"
#include "gpt2_tokenizer.h"
#include "tests/catch.h"

using gpt2::Tokenizer;

namespace {

std::string shakespeare() {
  return gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt");
}

// The textbook algorithm, as slow and plain as possible: every pre-token occurrence is a list of
// ids; count all adjacent pairs from scratch; merge the most frequent (ties: smaller left id, then
// smaller right id) everywhere, left to right; repeat. Returns the merges and the final segmentation.
struct NaiveResult {
  std::vector<std::pair<int, int>> merges;
  std::vector<int> ids;  // the training text's final tokens, in order
};
NaiveResult naive_train(std::string_view text, int num_merges) {
  std::array<int, 256> byte_id{};
  for (int i = 0; i < 256; ++i) byte_id[gpt2::byte_order()[i]] = i;
  std::vector<std::vector<int>> words;
  for (auto w : gpt2::pretokenize(text)) {
    words.emplace_back();
    for (unsigned char c : w) words.back().push_back(byte_id[c]);
  }
  NaiveResult r;
  for (int m = 0; m < num_merges; ++m) {
    std::map<std::pair<int, int>, int> counts;  // ordered: the first maximum is the tie-break winner
    for (const auto& w : words)
      for (size_t i = 0; i + 1 < w.size(); ++i) ++counts[{w[i], w[i + 1]}];
    std::pair<int, int> best{-1, -1};
    int best_count = 0;
    for (const auto& [p, c] : counts)
      if (c > best_count) best = p, best_count = c;
    if (best_count == 0) break;
    const int new_id = 256 + m;
    r.merges.push_back(best);
    for (auto& w : words) {
      std::vector<int> out;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) {
          out.push_back(new_id);
          ++i;
        } else {
          out.push_back(w[i]);
        }
      }
      w = out;
    }
  }
  for (const auto& w : words) r.ids.insert(r.ids.end(), w.begin(), w.end());
  return r;
}

}  // namespace

TEST_CASE("training matches the naive trainer, and encoding reproduces its segmentation", "[train]") {
  const std::string text = shakespeare().substr(0, 12000);
  const int merges = 150;
  NaiveResult ref = naive_train(text, merges);
  REQUIRE(ref.merges.size() == merges);
  Tokenizer tok = gpt2::train_bpe(text, 257 + merges);
  CHECK(tok.vocab_size() == 257 + merges);
  CHECK(tok.eot_id() == 256 + merges);
  CHECK(tok.merges() == ref.merges);
  // encode() applies the merges by rank inside each pre-token; on the training text that must give
  // exactly the segmentation training ended with.
  CHECK(tok.encode(text) == ref.ids);
  CHECK(tok.decode(tok.encode(text)) == text);
}

TEST_CASE("training is deterministic and its merges are in order", "[train]") {
  const std::string text = shakespeare().substr(0, 200000);
  Tokenizer a = gpt2::train_bpe(text, 1024);
  Tokenizer b = gpt2::train_bpe(text, 1024);
  CHECK(a.merges() == b.merges());
  // Merge r makes id 256 + r from two tokens that existed before it.
  for (size_t r = 0; r < a.merges().size(); ++r) {
    auto [left, right] = a.merges()[r];
    CHECK((left < 256 + static_cast<int>(r) && right < 256 + static_cast<int>(r)));
    CHECK(a.find_merge(left, right).rank == static_cast<int>(r));
    CHECK(a.find_merge(left, right).id == 256 + static_cast<int>(r));
  }
  // Every learned token encodes to itself (the shortcut in encode() is safe for trained vocabularies too).
  for (int id = 256; id < 256 + static_cast<int>(a.merges().size()); ++id) {
    CHECK(a.bpe(a.token_bytes(id)) == std::vector<int>{id});
  }
  // The first merge of English text: ' ' + 't'? 'e' + ' '? Whatever it is, it is the most frequent pair.
  CHECK(a.merges().size() == 1024 - 257);
}

TEST_CASE("a trained tokenizer saves, loads and encodes identically", "[train]") {
  const std::string text = shakespeare().substr(0, 100000);
  Tokenizer tok = gpt2::train_bpe(text, 600);
  auto dir = gpt2::test_temp_dir("01_trained");
  tok.save(dir);
  Tokenizer loaded = Tokenizer::load(dir);
  CHECK(loaded.vocab_size() == tok.vocab_size());
  CHECK(loaded.merges() == tok.merges());
  CHECK(loaded.eot_id() == tok.eot_id());
  const std::string sample = shakespeare().substr(500000, 20000) + "\xFF\xFE ünïcödé 😀<|endoftext|>";
  CHECK(loaded.encode(sample) == tok.encode(sample));
  CHECK(loaded.encode(sample, true) == tok.encode(sample, true));
  CHECK(loaded.decode(loaded.encode(sample)) == sample);
}

TEST_CASE("tiny Shakespeare to 4096 tokens in seconds", "[train]") {
  const std::string text = shakespeare();
  gpt2::Timer timer;
  Tokenizer tok = gpt2::train_bpe(text, 4096);
  const double seconds = timer.seconds();
  WARN("trained 4096 tokens on tiny Shakespeare in " << seconds << " s");
  CHECK(tok.vocab_size() == 4096);
  CHECK(seconds < 30);  // generous for slow CI machines; about a second on a laptop core
  const std::vector<int> ids = tok.encode(text);
  CHECK(tok.decode(ids) == text);
  CHECK(ids.size() < text.size() / 3);  // it compresses: about 3.5 bytes per token
}

TEST_CASE("the smallest vocabularies: 256 (bytes only) and 257 (bytes and <|endoftext|>)", "[train]") {
  CHECK_ERROR(gpt2::train_bpe("abc", 255), "must be at least 256");
  Tokenizer bytes_only = gpt2::train_bpe("abc abc", 256);
  CHECK(bytes_only.vocab_size() == 256);
  CHECK(bytes_only.eot_id() == -1);
  CHECK(bytes_only.encode("ab<|endoftext|>", true).size() == 15);  // no special token to map to
  Tokenizer with_eot = gpt2::train_bpe("abc abc", 257);
  CHECK(with_eot.vocab_size() == 257);
  CHECK(with_eot.eot_id() == 256);
  CHECK(with_eot.encode("ab<|endoftext|>", true) ==
        std::vector<int>{with_eot.token_id("a"), with_eot.token_id("b"), 256});
  // A bytes-only vocabulary saves and loads too.
  auto dir = gpt2::test_temp_dir("01_bytes_only");
  bytes_only.save(dir);
  CHECK(Tokenizer::load(dir).vocab_size() == 256);
}
