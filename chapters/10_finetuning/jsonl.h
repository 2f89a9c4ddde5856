/// @file jsonl.h
/// @brief Reading fine-tuning datasets: instruction examples (Alpaca's `instruction`, `input`,
/// `output`) and labelled texts (`text`, `label`), one JSON object per line.
///
/// JSONL ("JSON lines") holds one JSON object per line. The instruction format is the one of
/// Stanford's Alpaca, which LLMs-from-scratch and most public instruction sets use:
///
///     {"instruction": "Who speaks last in this passage?", "input": "ROMEO:\n...", "output": "JULIET"}
///
/// `input` may be empty or absent (many instructions need none); `instruction` and `output` must
/// be non-empty strings. Other fields are ignored. The classification format is
///
///     {"text": "Kiss me, Kate, we will be married o' Sunday.", "label": "PETRUCHIO"}
///
/// Alpaca's own `alpaca_data.json` is one JSON array of such objects rather than JSONL; a file
/// whose first character is `[` is read that way, so it works unchanged.
///
/// **Bad input** gets one error naming the file and the line (or, in an array, the record):
/// `data/x.jsonl:12: missing field 'output'`, `...:12: field 'input' must be a string, got 3`,
/// `...:12: field 'output' is empty`, `...:12: invalid UTF-8 at byte 40 of the line`,
/// `...:12: not valid JSON (...)`, `...:12: expected a JSON object`, and `data/x.jsonl: no
/// examples` for a file without any. Blank lines are skipped, a final line needs no newline, a
/// carriage return before a newline is dropped, and a UTF-8 byte-order mark at the start is
/// ignored.
///
/// The parsers work on bytes in memory, so tests and fuzzers can call them without files.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

/// One instruction example, as in Alpaca.
struct InstructionExample {
  std::string instruction;  ///< what to do (never empty)
  std::string input;        ///< what to do it on (may be empty)
  std::string output;       ///< the answer the model should learn to give (never empty)
  int line = 0;             ///< where it was in its file (1-based line, or record in an array)

  bool operator==(const InstructionExample& o) const {
    return instruction == o.instruction && input == o.input && output == o.output;
  }
};

/// One text with its class.
struct LabeledText {
  std::string text;   ///< never empty
  std::string label;  ///< the class's name, never empty
  int line = 0;       ///< where it was in its file (1-based line, or record in an array)
};

/// The instruction examples of a JSONL text (or JSON array) `bytes`; `name` is used in messages.
std::vector<InstructionExample> parse_instruction_data(std::string_view bytes, const std::string& name);
/// Reads `path` with parse_instruction_data.
std::vector<InstructionExample> read_instruction_data(const std::filesystem::path& path);

/// The labelled texts of a JSONL text (or JSON array) `bytes`.
std::vector<LabeledText> parse_labeled_texts(std::string_view bytes, const std::string& name);
/// Reads `path` with parse_labeled_texts.
std::vector<LabeledText> read_labeled_texts(const std::filesystem::path& path);

/// The distinct labels of `examples`, sorted (the class ids are their positions).
std::vector<std::string> collect_labels(const std::vector<LabeledText>& examples);
/// The class id of each example: its label's position in `labels`. An unknown label is an error
/// naming `name`, the example's line and the known labels.
std::vector<int> label_ids(const std::vector<LabeledText>& examples, const std::vector<std::string>& labels,
                           const std::string& name);

/// One JSONL line (without newline) of an example, as our data files write it.
std::string to_jsonl_line(const InstructionExample& example);
std::string to_jsonl_line(const LabeledText& example);

}  // namespace gpt2
