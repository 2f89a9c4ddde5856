// Exercises 01: one way to write each task (compare with yours after you have tried).
#include "exercise.h"

namespace exercise {

std::array<uint32_t, 256> byte_to_unicode_table() {
  std::array<uint32_t, 256> table{};
  std::array<bool, 256> printable{};
  for (int b = '!'; b <= '~'; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  uint32_t next = 0x100;  // the stand-ins for the other 68 bytes, handed out in byte order
  for (int b = 0; b < 256; ++b) table[b] = printable[b] ? static_cast<uint32_t>(b) : next++;
  return table;
}

std::map<std::pair<int, int>, int64_t> count_pairs(const std::vector<std::vector<int>>& words,
                                                   const std::vector<int64_t>& counts) {
  std::map<std::pair<int, int>, int64_t> pairs;
  for (size_t w = 0; w < words.size(); ++w) {
    for (size_t i = 0; i + 1 < words[w].size(); ++i) pairs[{words[w][i], words[w][i + 1]}] += counts[w];
  }
  return pairs;
}

std::vector<int> apply_merge(const std::vector<int>& word, int a, int b, int new_id) {
  std::vector<int> out;
  for (size_t i = 0; i < word.size(); ++i) {
    if (i + 1 < word.size() && word[i] == a && word[i + 1] == b) {
      out.push_back(new_id);
      ++i;  // both halves are used up: (5, 5) in 5 5 5 gives 9 5
    } else {
      out.push_back(word[i]);
    }
  }
  return out;
}

namespace {
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
bool is_other(char c) {
  return !is_letter(c) && !is_digit(c) && !is_space(c);
}
// The end of the run of characters of the same class as text[pos] (letters, digits or others).
size_t run_end(std::string_view text, size_t pos) {
  bool (*same)(char) = is_letter(text[pos]) ? is_letter : is_digit(text[pos]) ? is_digit : is_other;
  while (pos < text.size() && same(text[pos])) ++pos;
  return pos;
}
}  // namespace

size_t ascii_pretoken_end(std::string_view text, size_t pos) {
  const size_t n = text.size();
  // 1. A contraction: 's 't 'm 'd, or 're 've 'll (lower case only).
  if (text[pos] == '\'' && pos + 1 < n) {
    const char c = text[pos + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return pos + 2;
    if (pos + 2 < n) {
      const std::string_view two = text.substr(pos + 1, 2);
      if (two == "re" || two == "ve" || two == "ll") return pos + 3;
    }
  }
  // 2-4. An optional space, then a run of letters, of digits or of other characters.
  if (text[pos] == ' ' && pos + 1 < n && !is_space(text[pos + 1])) return run_end(text, pos + 1);
  if (!is_space(text[pos])) return run_end(text, pos);
  // 5-6. White space: the whole run at the end of the text; before anything else all but its last
  // character (which goes with the next word), but at least one character.
  size_t end = pos;
  while (end < n && is_space(text[end])) ++end;
  if (end == n) return end;
  return end - pos >= 2 ? end - 1 : end;
}

std::vector<int> bpe_word(std::string_view word, const gpt2::Tokenizer& tok) {
  std::vector<int> ids;
  for (char byte : word) ids.push_back(tok.token_id(std::string_view(&byte, 1)));
  while (ids.size() > 1) {
    // The adjacent pair with the lowest rank; the first one on ties (strict <).
    int best = -1, best_rank = -1, best_id = -1;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const auto merge = tok.find_merge(ids[i], ids[i + 1]);
      if (merge.rank >= 0 && (best < 0 || merge.rank < best_rank)) {
        best = static_cast<int>(i);
        best_rank = merge.rank;
        best_id = merge.id;
      }
    }
    if (best < 0) break;  // no pair has a merge: done
    ids[best] = best_id;
    ids.erase(ids.begin() + best + 1);
  }
  return ids;
}

std::vector<std::pair<int, int>> learn_merges(std::vector<std::vector<int>> words,
                                              const std::vector<int64_t>& counts, int first_id,
                                              int n_merges) {
  std::vector<std::pair<int, int>> merges;
  for (int k = 0; k < n_merges; ++k) {
    const auto pairs = count_pairs(words, counts);
    if (pairs.empty()) break;  // every word is a single token
    // std::map iterates in (left, right) order, so the first pair with the highest count is the
    // one the tie-break wants.
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;
    const auto [a, b] = best->first;
    merges.push_back({a, b});
    for (auto& word : words) word = apply_merge(word, a, b, first_id + k);
  }
  return merges;
}

}  // namespace exercise
