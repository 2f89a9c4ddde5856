// ch01_demo: from text to GPT-2's token ids and back, one merge at a time; then a BPE of our own.
//
//   build/bin/ch01_demo ["some text"]
#include <cstdio>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/byte_unicode.h"
#include "chapters/01_tokenizer/pretokenize.h"
#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "common/timer.h"

using gpt2::Tokenizer;

namespace {

// A token as GPT-2's files write it ("Ġthe" for " the").
std::string shown(const Tokenizer& tok, int id) {
  return gpt2::bytes_to_unicode_string(tok.token_bytes(id));
}

std::string shown_list(const Tokenizer& tok, const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += (s.empty() ? "" : " | ") + shown(tok, id);
  return s;
}

// BPE on one word, printing every merge: the textbook loop (lowest rank first, leftmost on ties).
void trace_merges(const Tokenizer& tok, std::string_view word) {
  std::vector<int> ids;
  for (unsigned char b : word) ids.push_back(tok.token_id(std::string(1, static_cast<char>(b))));
  std::printf("  start          %s\n", shown_list(tok, ids).c_str());
  while (true) {
    int best = -1;
    gpt2::MergeTable::Merge best_merge;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      gpt2::MergeTable::Merge m = tok.find_merge(ids[i], ids[i + 1]);
      if (m.rank >= 0 && (best < 0 || m.rank < best_merge.rank)) best = static_cast<int>(i), best_merge = m;
    }
    if (best < 0) break;
    std::printf("  rank %5d:    %s + %s -> %s (id %d)\n", best_merge.rank, shown(tok, ids[best]).c_str(),
                shown(tok, ids[best + 1]).c_str(), shown(tok, best_merge.id).c_str(), best_merge.id);
    ids[best] = best_merge.id;
    ids.erase(ids.begin() + best + 1);
  }
  std::printf("  result         %s\n", shown_list(tok, ids).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string text =
        argc > 1 ? argv[1] : "Hello world! It's 2024, the tokenizers aren't lowercasing.";
    const Tokenizer tok = Tokenizer::load(gpt2::data_dir() + "/gpt2");
    std::printf("text: \"%s\" (%zu bytes)\n\n1. pre-tokens (GPT-2's regex):\n  ", text.c_str(), text.size());
    for (auto p : gpt2::pretokenize(text)) std::printf("[%s] ", gpt2::bytes_to_unicode_string(p).c_str());
    std::printf("\n\n2. BPE inside one pre-token, merge by merge:\n");
    trace_merges(tok, " lowercasing");
    const std::vector<int> ids = tok.encode(text);
    std::printf("\n3. all the token ids (%zu tokens):\n  ", ids.size());
    for (int id : ids) std::printf("%d ", id);
    std::printf("\n  %s\n", shown_list(tok, ids).c_str());
    std::printf("\n4. decoded back: \"%s\"\n", tok.decode(ids).c_str());

    std::printf("\n5. a 512-token BPE trained on tiny Shakespeare:\n");
    const std::string shakespeare = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt");
    gpt2::Timer timer;
    const Tokenizer ours = gpt2::train_bpe(shakespeare, 512);
    std::printf("  trained in %.2f s; the first merges:", timer.seconds());
    for (int r = 0; r < 12; ++r) {
      auto [a, b] = ours.merges()[static_cast<size_t>(r)];
      std::printf(" [%s %s]", shown(ours, a).c_str(), shown(ours, b).c_str());
    }
    const std::vector<int> mine = ours.encode(text);
    std::printf("\n  the text in %zu tokens: %s\n", mine.size(), shown_list(ours, mine).c_str());
    const size_t n_ours = ours.encode(shakespeare).size(), n_gpt2 = tok.encode(shakespeare).size();
    std::printf(
        "  tiny Shakespeare: %zu tokens with ours (%.2f bytes/token), %zu with GPT-2's (%.2f bytes/token)\n",
        n_ours, static_cast<double>(shakespeare.size()) / static_cast<double>(n_ours), n_gpt2,
        static_cast<double>(shakespeare.size()) / static_cast<double>(n_gpt2));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch01_demo: %s\n", e.what());
    return 1;
  }
  return 0;
}
