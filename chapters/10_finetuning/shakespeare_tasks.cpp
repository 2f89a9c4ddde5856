#include "chapters/10_finetuning/shakespeare_tasks.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "common/rng.h"

namespace gpt2 {

std::vector<Speech> parse_speeches(std::string_view text) {
  std::vector<Speech> speeches;
  size_t pos = 0;
  while (pos < text.size()) {
    // A block runs to the next blank line ("\n\n") or the end of the text.
    while (pos < text.size() && text[pos] == '\n') ++pos;  // (a play boundary has two blank lines)
    if (pos >= text.size()) break;
    size_t block_end = text.find("\n\n", pos);
    if (block_end == std::string_view::npos) block_end = text.size();
    std::string_view block = text.substr(pos, block_end - pos);
    if (!block.empty() && block.back() == '\n') block.remove_suffix(1);
    const size_t first_newline = block.find('\n');
    if (first_newline != std::string_view::npos && first_newline > 1 && block[first_newline - 1] == ':') {
      Speech s;
      s.speaker = std::string(block.substr(0, first_newline - 1));
      s.text = std::string(block.substr(first_newline + 1));
      s.offset = pos;
      s.end = pos + block.size();
      s.lines = 1 + static_cast<int>(std::count(s.text.begin(), s.text.end(), '\n'));
      speeches.push_back(std::move(s));
    }
    pos = block_end;
  }
  return speeches;
}

size_t heldout_start(std::string_view text, double fraction) {
  size_t cut = static_cast<size_t>(static_cast<double>(text.size()) * (1.0 - fraction));
  if (cut >= text.size()) return text.size();
  // A line starts at `cut` if the byte before it is a line break; otherwise at the next one.
  const size_t newline = text.find('\n', cut == 0 ? 0 : cut - 1);
  return newline == std::string_view::npos ? text.size() : newline + 1;
}

SpeakerTask make_speaker_task(const std::vector<Speech>& speeches, size_t heldout, int num_classes) {
  GPT2_CHECK(num_classes >= 2, "make_speaker_task: need at least 2 classes, got ", num_classes);
  // The speakers with the most speeches in the held-out part (ties: alphabetical).
  std::map<std::string, int> heldout_count;
  for (const Speech& s : speeches)
    if (s.offset >= heldout) ++heldout_count[s.speaker];
  std::vector<std::pair<std::string, int>> ranked(heldout_count.begin(), heldout_count.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  GPT2_CHECK(static_cast<int>(ranked.size()) >= num_classes, "make_speaker_task: the held-out text has only ",
             ranked.size(), " speakers");
  SpeakerTask task;
  for (int k = 0; k < num_classes; ++k) task.speakers.push_back(ranked[k].first);
  std::sort(task.speakers.begin(), task.speakers.end());

  // Each speaker's speeches in file order: the last quarter tests, the eighth before validates.
  std::map<std::string, std::vector<const Speech*>> by_speaker;
  for (const Speech& s : speeches)
    if (std::binary_search(task.speakers.begin(), task.speakers.end(), s.speaker))
      by_speaker[s.speaker].push_back(&s);
  std::map<const Speech*, int> split;  // 0 train, 1 validation, 2 test
  for (auto& [speaker, list] : by_speaker) {
    const size_t n = list.size(), n_test = n / 4, n_val = n / 8;
    for (size_t i = 0; i < n; ++i) {
      const int which = i >= n - n_test ? 2 : i >= n - n_test - n_val ? 1 : 0;
      GPT2_CHECK(which == 0 || list[i]->offset >= heldout, "make_speaker_task: a ",
                 which == 1 ? "validation" : "test", " speech of ", speaker, " (byte ", list[i]->offset,
                 ") lies before the held-out text (byte ", heldout, ")");
      split[list[i]] = which;
    }
  }
  // The splits keep file order.
  for (const Speech& s : speeches) {
    auto it = split.find(&s);
    if (it == split.end()) continue;
    LabeledText e{s.text, s.speaker, 0};
    (it->second == 0 ? task.train : it->second == 1 ? task.validation : task.test).push_back(std::move(e));
  }
  return task;
}

double majority_baseline(const std::vector<LabeledText>& train, const std::vector<LabeledText>& test) {
  std::map<std::string, int> count;
  for (const LabeledText& e : train) ++count[e.label];
  std::string majority;
  int best = -1;
  for (const auto& [label, n] : count) {
    if (n > best) {
      best = n;
      majority = label;
    }
  }
  if (test.empty()) return 0;
  int right = 0;
  for (const LabeledText& e : test) right += e.label == majority ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(test.size());
}

namespace {

constexpr size_t kMaxPassageChars = 120;

enum class Task { last_speaker, who_says, count_lines };

// Consecutive speeches [first, first + count) of `speeches`, written as in the play.
std::string passage_text(const std::vector<Speech>& speeches, size_t first, size_t count) {
  std::string text;
  for (size_t i = first; i < first + count; ++i) {
    if (i > first) text += "\n\n";
    text += speeches[i].speaker + ":\n" + speeches[i].text;
  }
  return text;
}

// The lines of a speech's text.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

int word_count(const std::string& line) {
  int words = 0;
  bool in_word = false;
  for (char c : line) {
    const bool space = c == ' ' || c == '\t';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

// Draws `count` examples from passages of the speeches [lo, hi), task k mod 3 for example k.
std::vector<InstructionExample> draw_examples(const std::vector<Speech>& speeches, size_t lo, size_t hi,
                                              int count, Rng& rng) {
  std::vector<InstructionExample> out;
  std::set<std::pair<std::string, std::string>> seen;
  GPT2_CHECK(hi > lo + 1, "make_instruction_task: too few speeches");
  const int64_t max_draws = 1000 * static_cast<int64_t>(count) + 100000;
  int64_t draws = 0;
  while (static_cast<int>(out.size()) < count) {
    GPT2_CHECK(++draws <= max_draws, "make_instruction_task: could not find ", count,
               " distinct passages in the text; ask for fewer examples");
    const Task task = static_cast<Task>(out.size() % 3);
    // A passage: speeches from `first` on while the text stays within kMaxPassageChars.
    const size_t first = lo + rng.below(static_cast<uint32_t>(hi - lo));
    size_t n = 0, chars = 0;
    while (first + n < hi) {
      const Speech& s = speeches[first + n];
      // Only speeches that follow each other in the text, one blank line apart (not across the
      // start of a play, nor across a name without a speech).
      if (n > 0 && s.offset != speeches[first + n - 1].end + 2) break;
      const size_t add = (n > 0 ? 2 : 0) + s.speaker.size() + 2 + s.text.size();
      if (chars + add > kMaxPassageChars) break;
      chars += add;
      ++n;
    }
    if (n < 2) continue;
    InstructionExample e;
    e.input = passage_text(speeches, first, n);
    if (task == Task::last_speaker) {
      e.instruction = "Who speaks last in this passage?";
      e.output = speeches[first + n - 1].speaker;
    } else if (task == Task::who_says) {
      // A line of at least three words that occurs once in the passage.
      const size_t j = first + rng.below(static_cast<uint32_t>(n));
      const std::vector<std::string> lines = lines_of(speeches[j].text);
      const std::string& line = lines[rng.below(static_cast<uint32_t>(lines.size()))];
      if (word_count(line) < 3) continue;
      size_t occurrences = 0;
      for (size_t at = e.input.find(line); at != std::string::npos; at = e.input.find(line, at + 1))
        ++occurrences;
      if (occurrences != 1) continue;
      e.instruction = "Who says \"" + line + "\"?";
      e.output = speeches[j].speaker;
    } else {
      const std::string& who = speeches[first + rng.below(static_cast<uint32_t>(n))].speaker;
      int lines = 0;
      for (size_t i = first; i < first + n; ++i)
        if (speeches[i].speaker == who) lines += speeches[i].lines;
      e.instruction = "How many lines does " + who + " speak in this passage?";
      e.output = std::to_string(lines);
    }
    if (!seen.insert({e.instruction, e.input}).second) continue;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

InstructionTask make_instruction_task(const std::vector<Speech>& speeches, size_t heldout, int num_train,
                                      int num_heldout, uint64_t seed) {
  // Speeches wholly before the cut, and wholly after it (the one it falls into, if any, is in neither).
  size_t train_end = 0;
  while (train_end < speeches.size() && speeches[train_end].end <= heldout) ++train_end;
  size_t heldout_begin = train_end;
  while (heldout_begin < speeches.size() && speeches[heldout_begin].offset < heldout) ++heldout_begin;
  Rng rng(seed);
  InstructionTask task;
  task.train = draw_examples(speeches, 0, train_end, num_train, rng);
  task.heldout = draw_examples(speeches, heldout_begin, speeches.size(), num_heldout, rng);
  return task;
}

}  // namespace gpt2
