// Fuzz target: chapter 10's fine-tuning data (jsonl.h), as `gpt2 finetune --task sft|classify`,
// `gpt2 chat --eval` and `gpt2 classify --eval` read it. The same bytes are read both ways: as
// instruction examples and as labelled texts. What a reader accepts must be what training uses:
//  - instruction examples have a non-empty instruction and answer, write back (to_jsonl_line)
//    and read again to themselves, and tokenize in the chat template with the answer's mask on
//    exactly the answer and its <|endoftext|> (so the loss trains the answer and nothing else);
//    batches of them hold only real token ids and targets;
//  - a file either reader accepts is valid UTF-8 throughout (JSON's encoding: a byte that is
//    not must be refused, naming its line);
//  - a refused file's error names the right place: the first line refused on its own, and the
//    first invalid UTF-8 byte there;
//  - labelled texts have a non-empty text and label, every label has a class id that names it
//    back, and the first T tokens of each text decode to a prefix of it.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/01_tokenizer/utf8.h"
#include "chapters/10_finetuning/chat_template.h"
#include "chapters/10_finetuning/classification_batch.h"
#include "chapters/10_finetuning/jsonl.h"
#include "chapters/10_finetuning/sft_batch.h"
#include "common/testing.h"
#include "fuzz/fuzz_util.h"

namespace {

// The batch shape: small, so that long examples are dropped (SFT) or cut (classification).
constexpr int kB = 2, kT = 48;

const gpt2::Tokenizer& tokenizer() {
  static const gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
  return tok;
}

bool valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const gpt2::Utf8Char c = gpt2::decode_utf8(s, pos);
    if (!c.valid) return false;
    pos += static_cast<size_t>(c.length);
  }
  return true;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// The error `message` of a refused file names the right place: the line (of a JSONL file) it
// names is the first one `parse` refuses on its own, and an invalid UTF-8 byte it points at is
// the first one there.
template <typename Parse>
void check_error(std::string_view bytes, const std::string& message, Parse parse) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  const std::string name = "train.jsonl";
  FUZZ_CHECK(message.starts_with(name));  // one error, naming the file
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  const bool array = first != std::string_view::npos && bytes[first] == '[';
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < bytes.size();) {
    const size_t end = std::min(bytes.find('\n', start), bytes.size());
    lines.push_back(bytes.substr(start, end - start));
    start = end + 1;
  }
  if (message == name + ": no examples") {
    if (!array)
      for (std::string_view line : lines) FUZZ_CHECK(is_blank(line));
    return;
  }
  size_t n = 0, at = name.size() + 1;
  if (message.compare(0, at, name + ":") != 0 || at >= message.size() ||
      !std::isdigit(static_cast<unsigned char>(message[at])))
    return;
  while (at < message.size() && std::isdigit(static_cast<unsigned char>(message[at])))
    n = n * 10 + static_cast<size_t>(message[at++] - '0');
  FUZZ_CHECK(n >= 1 && n <= lines.size());
  // "invalid UTF-8 at byte B of the line" (JSONL) or "... of the file" (a JSON array).
  const std::string utf8 = ": invalid UTF-8 at byte ";
  if (message.compare(at, utf8.size(), utf8) == 0) {
    const size_t b = std::stoul(message.substr(at + utf8.size()));
    const std::string_view where = array ? bytes : lines[n - 1];
    FUZZ_CHECK(b < where.size() && !gpt2::decode_utf8(where, b).valid && valid_utf8(where.substr(0, b)));
    if (array) FUZZ_CHECK(static_cast<size_t>(std::count(bytes.begin(), bytes.begin() + b, '\n')) == n - 1);
  }
  if (array) return;
  FUZZ_CHECK(!is_blank(lines[n - 1]));
  for (size_t k = 0; k + 1 < n; ++k) {
    try {
      parse(lines[k]);
    } catch (const gpt2::Error& e) {
      FUZZ_CHECK(is_blank(lines[k]) && std::string(e.what()) == name + ": no examples");
    }
  }
}

void check_instructions(std::string_view bytes) {
  std::vector<gpt2::InstructionExample> examples;
  try {
    examples = gpt2::parse_instruction_data(bytes, "train.jsonl");
  } catch (const gpt2::Error& e) {
    check_error(bytes, e.what(),
                [](std::string_view line) { gpt2::parse_instruction_data(line, "train.jsonl"); });
    return;
  }
  FUZZ_CHECK(!examples.empty() && valid_utf8(bytes));
  const gpt2::Tokenizer& tok = tokenizer();
  std::string rewritten;
  int previous_line = 0;
  std::vector<gpt2::SftExample> encoded;
  for (const gpt2::InstructionExample& e : examples) {
    FUZZ_CHECK(!e.instruction.empty() && !e.output.empty());
    FUZZ_CHECK(e.line > previous_line);
    previous_line = e.line;
    rewritten += gpt2::to_jsonl_line(e) + "\n";

    const gpt2::SftExample s = gpt2::encode_sft_example(tok, e);
    FUZZ_CHECK(s.tokens.size() == s.assistant.size());
    const std::vector<int> prompt = gpt2::encode_chat_prompt(tok, e.instruction, e.input);
    FUZZ_CHECK(s.tokens.size() > prompt.size());
    FUZZ_CHECK(std::equal(prompt.begin(), prompt.end(), s.tokens.begin()));
    std::vector<int> answer;
    for (size_t t = 0; t < s.tokens.size(); ++t) {
      FUZZ_CHECK(s.assistant[t] == (t >= prompt.size() ? 1 : 0));
      if (s.assistant[t]) answer.push_back(s.tokens[t]);
    }
    FUZZ_CHECK(answer.back() == tok.eot_id());
    answer.pop_back();
    FUZZ_CHECK(tok.decode(prompt) == gpt2::chat_prompt_text(e.instruction, e.input));
    FUZZ_CHECK(tok.decode(answer) == e.output);
    encoded.push_back(s);
  }
  FUZZ_CHECK(gpt2::parse_instruction_data(rewritten, "rewritten.jsonl") == examples);

  gpt2::drop_long_examples(encoded, kT);
  for (gpt2::SftLayout layout : {gpt2::SftLayout::pad, gpt2::SftLayout::pack}) {
    int num_examples = 0;
    for (const gpt2::SftBatch& b : gpt2::make_sft_batches(encoded, kB, kT, layout, tok.eot_id())) {
      FUZZ_CHECK(b.tokens.size() == static_cast<size_t>(kB * kT) && b.targets.size() == b.tokens.size());
      int targets = 0;
      for (size_t i = 0; i < b.tokens.size(); ++i) {
        FUZZ_CHECK(b.tokens[i] >= 0 && b.tokens[i] < tok.vocab_size());
        FUZZ_CHECK(b.targets[i] >= -1 && b.targets[i] < tok.vocab_size());
        targets += b.targets[i] >= 0;
      }
      FUZZ_CHECK(targets == b.num_targets);
      num_examples += b.num_examples;
    }
    FUZZ_CHECK(num_examples == static_cast<int>(encoded.size()));
  }
}

void check_labeled_texts(std::string_view bytes) {
  std::vector<gpt2::LabeledText> examples;
  try {
    examples = gpt2::parse_labeled_texts(bytes, "train.jsonl");
  } catch (const gpt2::Error& e) {
    check_error(bytes, e.what(),
                [](std::string_view line) { gpt2::parse_labeled_texts(line, "train.jsonl"); });
    return;
  }
  FUZZ_CHECK(!examples.empty() && valid_utf8(bytes));
  const gpt2::Tokenizer& tok = tokenizer();
  const std::vector<std::string> labels = gpt2::collect_labels(examples);
  const std::vector<int> ids = gpt2::label_ids(examples, labels, "train.jsonl");
  FUZZ_CHECK(ids.size() == examples.size());
  std::string rewritten;
  std::vector<gpt2::EncodedText> texts;
  for (size_t i = 0; i < examples.size(); ++i) {
    const gpt2::LabeledText& e = examples[i];
    FUZZ_CHECK(!e.text.empty() && !e.label.empty());
    FUZZ_CHECK(ids[i] >= 0 && ids[i] < static_cast<int>(labels.size()) && labels[ids[i]] == e.label);
    rewritten += gpt2::to_jsonl_line(e) + "\n";
    const gpt2::EncodedText t = gpt2::encode_labeled_text(tok, e.text, ids[i], kT);
    FUZZ_CHECK(!t.tokens.empty() && t.tokens.size() <= static_cast<size_t>(kT));
    const std::string prefix = tok.decode(t.tokens);
    FUZZ_CHECK(t.truncated ? prefix.size() < e.text.size() && starts_with(e.text, prefix) : prefix == e.text);
    texts.push_back(t);
  }
  const std::vector<gpt2::LabeledText> again = gpt2::parse_labeled_texts(rewritten, "rewritten.jsonl");
  FUZZ_CHECK(again.size() == examples.size());
  for (size_t i = 0; i < again.size(); ++i)
    FUZZ_CHECK(again[i].text == examples[i].text && again[i].label == examples[i].label);

  int num_examples = 0;
  for (const gpt2::ClassificationBatch& b : gpt2::make_classification_batches(texts, kB, kT, tok.eot_id())) {
    for (int r = 0; r < kB; ++r) {
      FUZZ_CHECK(b.last[r] >= 0 && b.last[r] < kT);
      FUZZ_CHECK(b.labels[r] >= -1 && b.labels[r] < static_cast<int>(labels.size()));
    }
    num_examples += b.num_examples;
  }
  FUZZ_CHECK(num_examples == static_cast<int>(texts.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_instructions(bytes);
  check_labeled_texts(bytes);
  return 0;
}
