// ch01_demo: from text to GPT-2's token ids and back, one merge at a time; then a BPE of our own.
//
//   build/bin/ch01_demo ["some text" [merges.svg]]
//
// The second argument names the picture of BPE on the word " lowercasing", merge by merge
// (default: bpe_merges.svg in the current directory).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/byte_unicode.h"
#include "chapters/01_tokenizer/pretokenize.h"
#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/plot.h"
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

// One state of BPE on a word: its tokens, and the merge that made it from the state before.
struct MergeStep {
  std::vector<int> ids;
  int rank = -1;      // -1 for the start (one token per byte)
  int position = -1;  // where the merged token stands in ids
};

// BPE on one word, keeping every state: the textbook loop (lowest rank first, leftmost on ties).
std::vector<MergeStep> merge_steps(const Tokenizer& tok, std::string_view word) {
  std::vector<MergeStep> steps(1);
  for (unsigned char b : word) steps[0].ids.push_back(tok.token_id(std::string(1, static_cast<char>(b))));
  while (true) {
    std::vector<int> ids = steps.back().ids;
    int best = -1;
    gpt2::MergeTable::Merge best_merge;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      gpt2::MergeTable::Merge m = tok.find_merge(ids[i], ids[i + 1]);
      if (m.rank >= 0 && (best < 0 || m.rank < best_merge.rank)) best = static_cast<int>(i), best_merge = m;
    }
    if (best < 0) return steps;
    ids[best] = best_merge.id;
    ids.erase(ids.begin() + best + 1);
    steps.push_back({ids, best_merge.rank, best});
  }
}

void print_merges(const Tokenizer& tok, const std::vector<MergeStep>& steps) {
  std::printf("  start          %s\n", shown_list(tok, steps[0].ids).c_str());
  for (size_t k = 1; k < steps.size(); ++k) {
    const MergeStep& s = steps[k];
    const std::string& before_a = shown(tok, steps[k - 1].ids[s.position]);
    const std::string& before_b = shown(tok, steps[k - 1].ids[s.position + 1]);
    std::printf("  rank %5d:    %s + %s -> %s (id %d)\n", s.rank, before_a.c_str(), before_b.c_str(),
                shown(tok, s.ids[s.position]).c_str(), s.ids[s.position]);
  }
  std::printf("  result         %s\n", shown_list(tok, steps.back().ids).c_str());
}

// Characters of a token as shown (UTF-8: count the code points, not the bytes).
size_t shown_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The steps as an SVG: one row per state, each token a box; the pair the next merge joins is
// orange, the token a merge made is green, and the last row gives the ids.
void draw_merges(const Tokenizer& tok, const std::vector<MergeStep>& steps, std::string_view word,
                 const std::string& path) {
  const double char_w = 9.0, box_h = 24, row_h = 34, label_w = 250, left = 12, top = 62;
  double widest = 0;
  for (const MergeStep& s : steps) {
    double w = 0;
    for (int id : s.ids) w += static_cast<double>(shown_width(shown(tok, id))) * char_w + 14 + 4;
    widest = std::max(widest, w);
  }
  const double width = std::max(left + label_w + widest + 12, 600.0),
               height = top + row_h * static_cast<double>(steps.size()) + 30;
  std::string svg =
      gpt2::cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", width, "\" height=\"", height,
                "\" viewBox=\"0 0 ", width, " ", height, "\" font-family=\"sans-serif\" font-size=\"13\">\n",
                "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  svg += gpt2::cat("<text x=\"", left, "\" y=\"22\" font-size=\"15\">GPT-2's BPE on \"",
                   gpt2::xml_escape(gpt2::bytes_to_unicode_string(word)),
                   "\" (\u0120 is the space), merge by merge</text>\n");
  svg += gpt2::cat("<text x=\"", left,
                   "\" y=\"42\" font-size=\"12\" fill=\"#444444\">the adjacent pair with the ",
                   "lowest rank merges first (orange: merged next; green: just made)</text>\n");
  for (size_t k = 0; k < steps.size(); ++k) {
    const MergeStep& s = steps[k];
    const double y = top + row_h * static_cast<double>(k);
    std::string label = "start: one token per byte";
    if (k > 0) {
      label =
          gpt2::cat("rank ", s.rank, ": ", shown(tok, steps[k - 1].ids[s.position]), " + ",
                    shown(tok, steps[k - 1].ids[s.position + 1]), " \u2192 ", shown(tok, s.ids[s.position]));
    }
    svg += gpt2::cat("<text class=\"step\" x=\"", left, "\" y=\"", y + 16, "\">", gpt2::xml_escape(label),
                     "</text>\n");
    const int next = k + 1 < steps.size() ? steps[k + 1].position : -1;
    double x = left + label_w;
    for (size_t i = 0; i < s.ids.size(); ++i) {
      const std::string text = shown(tok, s.ids[i]);
      const double w = static_cast<double>(shown_width(text)) * char_w + 14;
      const char* fill = "#eeeeee";
      if (static_cast<int>(i) == next || static_cast<int>(i) == next + 1) fill = "#fdd49e";
      if (k > 0 && static_cast<int>(i) == s.position) fill = "#c7e9c0";
      svg += gpt2::cat("<rect x=\"", x, "\" y=\"", y, "\" width=\"", w, "\" height=\"", box_h,
                       "\" rx=\"3\" fill=\"", fill, "\" stroke=\"#555555\"/>\n");
      svg += gpt2::cat("<text class=\"token\" x=\"", x + w / 2, "\" y=\"", y + 16,
                       "\" text-anchor=\"middle\" font-family=\"monospace\" font-size=\"14\">",
                       gpt2::xml_escape(text), "</text>\n");
      if (k + 1 == steps.size()) {
        svg += gpt2::cat("<text class=\"id\" x=\"", x + w / 2, "\" y=\"", y + box_h + 14,
                         "\" text-anchor=\"middle\" ", "font-size=\"11\">id ", s.ids[i], "</text>\n");
      }
      x += w + 4;
    }
  }
  svg += "</svg>\n";
  gpt2::write_file_atomic(path, svg);
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
    const std::vector<MergeStep> steps = merge_steps(tok, " lowercasing");
    print_merges(tok, steps);
    const std::string svg = argc > 2 ? argv[2] : "bpe_merges.svg";
    draw_merges(tok, steps, " lowercasing", svg);
    std::printf("  (drawn step by step in %s)\n", svg.c_str());
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
