// Tests of chapter 10's data side: the JSONL readers and their errors, the chat template and its
// loss mask, the conversation, padding and packing into batches, and the two Shakespeare datasets
// (their rules, and that the committed files are what the generator writes).
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/10_finetuning/chat_template.h"
#include "chapters/10_finetuning/classification_batch.h"
#include "chapters/10_finetuning/jsonl.h"
#include "chapters/10_finetuning/sft_batch.h"
#include "chapters/10_finetuning/shakespeare_tasks.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using Catch::Contains;

namespace {

// A byte-level tokenizer (no merges; id 256 is <|endoftext|>), the one of tests/fixtures/12_tiny_model.
const gpt2::Tokenizer& byte_tokenizer() {
  static const gpt2::Tokenizer tok = gpt2::Tokenizer::load(fs::path(gpt2::fixture_dir()) / "12_tiny_model");
  return tok;
}

const gpt2::Tokenizer& gpt2_tokenizer() {
  static const gpt2::Tokenizer tok = gpt2::Tokenizer::load(fs::path(gpt2::data_dir()) / "gpt2");
  return tok;
}

std::vector<gpt2::InstructionExample> parse(const std::string& text) {
  return gpt2::parse_instruction_data(text, "data.jsonl");
}

}  // namespace

// ----- JSONL ----------------------------------------------------------------------------------

TEST_CASE("instruction JSONL: Alpaca's fields, blank lines, CRLF, a BOM, a JSON array", "[jsonl]") {
  auto ex = parse(
      "\xEF\xBB\xBF{\"instruction\": \"Add\", \"input\": \"2 and 3\", \"output\": \"5\"}\r\n"
      "\n   \n"
      "{\"output\": \"Hi\", \"instruction\": \"Greet\", \"extra\": [1, 2]}\n"
      "{\"instruction\": \"Say \\u00e9\", \"input\": null, \"output\": \"\\u00e9\"}");
  REQUIRE(ex.size() == 3);
  CHECK(ex[0] == gpt2::InstructionExample{"Add", "2 and 3", "5"});
  CHECK(ex[0].line == 1);
  CHECK(ex[1] == gpt2::InstructionExample{"Greet", "", "Hi"});  // no input: empty
  CHECK(ex[1].line == 4);
  CHECK(ex[2].output == "\xC3\xA9");
  // Alpaca's own file is a JSON array of the same records.
  auto arr = parse(
      " [{\"instruction\": \"a\", \"input\": \"\", \"output\": \"b\"},\n {\"instruction\": \"c\", "
      "\"output\": \"d\"}]");
  REQUIRE(arr.size() == 2);
  CHECK(arr[1] == gpt2::InstructionExample{"c", "", "d"});
  CHECK(arr[1].line == 2);
}

TEST_CASE("instruction JSONL: one clear error naming the file and line", "[jsonl][errors]") {
  const std::string ok = "{\"instruction\": \"a\", \"output\": \"b\"}\n";
  CHECK_THROWS_WITH(parse(ok + "{\"instruction\": \"a\"}\n"), "data.jsonl:2: missing field 'output'");
  CHECK_THROWS_WITH(parse(ok + ok + "{\"output\": \"b\"}"), "data.jsonl:3: missing field 'instruction'");
  CHECK_THROWS_WITH(parse("{\"instruction\": \"a\", \"input\": 3, \"output\": \"b\"}"),
                    "data.jsonl:1: field 'input' must be a string, got 3");
  CHECK_THROWS_WITH(parse("{\"instruction\": [\"a\"], \"output\": \"b\"}"),
                    "data.jsonl:1: field 'instruction' must be a string, got [\"a\"]");
  CHECK_THROWS_WITH(parse(ok + "{\"instruction\": \"a\", \"output\": \"\"}"),
                    "data.jsonl:2: field 'output' is empty");
  CHECK_THROWS_WITH(parse("{\"instruction\": \"\", \"output\": \"b\"}"),
                    "data.jsonl:1: field 'instruction' is empty");
  CHECK_THROWS_WITH(parse(ok + "{\"instruction\": \"a\xff\", \"output\": \"b\"}"),
                    "data.jsonl:2: invalid UTF-8 at byte 18 of the line");
  CHECK_THROWS_WITH(parse(ok + "{\"instruction\": \"a\", \"output\": \"b\"\n"),
                    Contains("data.jsonl:2: not valid JSON"));
  CHECK_THROWS_WITH(parse(ok + "[1, 2]\n"), "data.jsonl:2: expected a JSON object, got array");
  CHECK_THROWS_WITH(parse(ok + "\"text\"\n"), "data.jsonl:2: expected a JSON object, got string");
  CHECK_THROWS_WITH(parse(""), "data.jsonl: no examples");
  CHECK_THROWS_WITH(parse("\n \n"), "data.jsonl: no examples");
  CHECK_THROWS_WITH(parse("[{\"instruction\": \"a\", \"output\": \"b\"}, {\"instruction\": \"a\"}]"),
                    "data.jsonl: record 2: missing field 'output'");
  CHECK_THROWS_WITH(parse("[{\"instruction\": \"a\", \"output\": \"b\"}, 3]"),
                    "data.jsonl: record 2: expected a JSON object, got number");
  CHECK_THROWS_WITH(parse("[{\"instruction\": \"a\", \"output\": \"b\"}"),
                    Contains("data.jsonl: not valid JSON"));
  CHECK_THROWS_WITH(parse("[{\"instruction\": \"a\",\n \"output\": \"\xc3\"}]"),
                    "data.jsonl:2: invalid UTF-8 at byte 34 of the file");
  CHECK_THROWS_WITH(gpt2::read_instruction_data("/no/such/file.jsonl"), Contains("/no/such/file.jsonl"));
}

TEST_CASE("labelled texts: fields, label ids, unknown labels", "[jsonl]") {
  auto ex = gpt2::parse_labeled_texts(
      "{\"text\": \"Kiss me, Kate.\", \"label\": \"PETRUCHIO\"}\n"
      "{\"text\": \"Go, fool.\", \"label\": \"KATHARINA\"}\n",
      "cls.jsonl");
  REQUIRE(ex.size() == 2);
  const std::vector<std::string> labels = gpt2::collect_labels(ex);
  CHECK(labels == std::vector<std::string>{"KATHARINA", "PETRUCHIO"});
  CHECK(gpt2::label_ids(ex, labels, "cls.jsonl") == std::vector<int>{1, 0});
  CHECK_THROWS_WITH(gpt2::label_ids(ex, {"KATHARINA", "TRANIO"}, "val.jsonl"),
                    "val.jsonl:1: unknown label 'PETRUCHIO' (the labels are: KATHARINA, TRANIO)");
  CHECK_THROWS_WITH(gpt2::parse_labeled_texts("{\"text\": \"x\"}", "cls.jsonl"),
                    "cls.jsonl:1: missing field 'label'");
  CHECK_THROWS_WITH(gpt2::parse_labeled_texts("{\"text\": \"\", \"label\": \"A\"}", "cls.jsonl"),
                    "cls.jsonl:1: field 'text' is empty");
  CHECK_THROWS_WITH(gpt2::parse_labeled_texts("{\"text\": \"x\", \"label\": 1}", "cls.jsonl"),
                    "cls.jsonl:1: field 'label' must be a string, got 1");
}

TEST_CASE("JSONL lines we write read back", "[jsonl]") {
  gpt2::InstructionExample e{"Who says \"hi\"?", "A:\nhi\n\nB:\nho", "A"};
  CHECK(gpt2::to_jsonl_line(e) ==
        R"({"instruction":"Who says \"hi\"?","input":"A:\nhi\n\nB:\nho","output":"A"})");
  CHECK(parse(gpt2::to_jsonl_line(e) + "\n")[0] == e);
  gpt2::LabeledText t{"line one\nline two", "TRANIO", 0};
  auto back = gpt2::parse_labeled_texts(gpt2::to_jsonl_line(t), "x");
  CHECK(back[0].text == t.text);
  CHECK(back[0].label == t.label);
}

// ----- the chat template ----------------------------------------------------------------------

TEST_CASE("chat template: the text, the tokens, the assistant mask", "[template]") {
  CHECK(gpt2::chat_prompt_text("Add", "2 and 3") ==
        "### Instruction:\nAdd\n\n### Input:\n2 and 3\n\n### Response:\n");
  CHECK(gpt2::chat_prompt_text("Greet", "") == "### Instruction:\nGreet\n\n### Response:\n");
  SECTION("byte tokenizer: one token per byte, then <|endoftext|>") {
    const gpt2::Tokenizer& tok = byte_tokenizer();
    const gpt2::InstructionExample ex{"Add", "2 and 3", "5!"};
    const gpt2::SftExample e = gpt2::encode_sft_example(tok, ex);
    const std::string prompt = gpt2::chat_prompt_text(ex.instruction, ex.input);
    REQUIRE(e.tokens.size() == prompt.size() + 2 + 1);
    CHECK(e.tokens.back() == 256);
    CHECK(tok.decode(std::span<const int>(e.tokens).first(e.tokens.size() - 1)) == prompt + "5!");
    for (size_t t = 0; t < e.tokens.size(); ++t) CHECK(e.assistant[t] == (t >= prompt.size() ? 1 : 0));
  }
  SECTION("GPT-2's tokenizer: pieces encoded one by one; text is never a special token") {
    const gpt2::Tokenizer& tok = gpt2_tokenizer();
    const gpt2::InstructionExample ex{"Say <|endoftext|> please", "", "No."};
    const gpt2::SftExample e = gpt2::encode_sft_example(tok, ex);
    std::vector<int> expected = tok.encode(gpt2::kInstructionMarker);
    for (const std::string& piece :
         {std::string("Say <|endoftext|> please"), std::string(gpt2::kResponseMarker)}) {
      std::vector<int> ids = tok.encode(piece);
      expected.insert(expected.end(), ids.begin(), ids.end());
    }
    const size_t prompt_length = expected.size();
    for (int id : tok.encode("No.")) expected.push_back(id);
    expected.push_back(gpt2::kEndOfTextId);
    CHECK(e.tokens == expected);
    CHECK(std::count(e.tokens.begin(), e.tokens.end(), gpt2::kEndOfTextId) ==
          1);  // only the real end of turn
    CHECK(gpt2::encode_chat_prompt(tok, ex.instruction, ex.input) ==
          std::vector<int>(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(prompt_length)));
    for (size_t t = 0; t < e.tokens.size(); ++t) CHECK(e.assistant[t] == (t >= prompt_length ? 1 : 0));
  }
  SECTION("a tokenizer without <|endoftext|> cannot end a turn") {
    const gpt2::Tokenizer bare = gpt2::Tokenizer::from_merges({}, {});
    CHECK_THROWS_WITH(gpt2::end_of_turn_id(bare), Contains("the tokenizer has no <|endoftext|> token"));
  }
}

TEST_CASE("a conversation grows at the end, drops its oldest turns to fit, resets", "[template][chat]") {
  const gpt2::Tokenizer& tok = byte_tokenizer();
  gpt2::Conversation chat(tok);
  const int n1 = chat.add_user("Hi");
  CHECK(n1 == static_cast<int>(gpt2::chat_prompt_text("Hi", "").size()));
  const std::vector<int> answer = tok.encode("Hello");
  chat.add_assistant(answer);  // stopped at its token limit: the end of turn is added
  std::vector<int> first_turn = chat.tokens();
  CHECK(first_turn.back() == 256);
  const int n2 = chat.add_user("Again");
  CHECK(chat.turns() == 2);
  // The earlier tokens are unchanged (a KV cache of them stays valid); only n2 new ones.
  CHECK(std::equal(first_turn.begin(), first_turn.end(), chat.tokens().begin()));
  CHECK(chat.tokens().size() == first_turn.size() + n2);
  std::vector<int> answer2 = tok.encode("Yes");
  answer2.push_back(256);  // generation stopped at <|endoftext|>: not added twice
  chat.add_assistant(answer2);
  CHECK(chat.tokens().size() == first_turn.size() + n2 + 4);
  const size_t second_turn_size = chat.tokens().size() - first_turn.size();
  // Context full: the oldest turn goes.
  CHECK(chat.fit(static_cast<int>(chat.tokens().size())) == 0);
  CHECK(chat.fit(static_cast<int>(chat.tokens().size()) - 1) == 1);
  CHECK(chat.turns() == 1);
  CHECK(chat.tokens().size() == second_turn_size);
  CHECK(tok.decode(std::span<const int>(chat.tokens()).first(chat.tokens().size() - 1)) ==
        gpt2::chat_prompt_text("Again", "") + "Yes");
  // A message longer than the context alone: an error, then the caller removes it.
  chat.add_user(std::string(100, 'x'));
  CHECK_THROWS_WITH(chat.fit(50), Contains("more than the context of 50 tokens"));
  chat.remove_last_turn();
  CHECK(chat.tokens().size() == second_turn_size);
  chat.reset();
  CHECK(chat.tokens().empty());
  CHECK(chat.turns() == 0);
}

TEST_CASE("a conversation's system message comes first and stays", "[template][chat]") {
  const gpt2::Tokenizer& tok = byte_tokenizer();
  gpt2::Conversation chat(tok);
  chat.set_system("Be brief.");
  CHECK(tok.decode(chat.tokens()) == "Be brief.\n\n");
  chat.add_user("Hi");
  chat.add_assistant(tok.encode("Hello"));
  chat.add_user("Again");
  CHECK(tok.decode(std::span<const int>(chat.tokens()).first(11 + 17)) == "Be brief.\n\n### Instruction:\n");
  CHECK_THROWS_WITH(chat.set_system("Later"), Contains("before the first turn"));
  // Dropping the oldest turn keeps the system message in front.
  CHECK(chat.fit(static_cast<int>(chat.tokens().size()) - 1) == 1);
  CHECK(tok.decode(chat.tokens()) == "Be brief.\n\n" + gpt2::chat_prompt_text("Again", ""));
  CHECK_THROWS_WITH(chat.fit(40), Contains("the system message and the last message take 49 tokens"));
  chat.reset();
  CHECK(tok.decode(chat.tokens()) == "Be brief.\n\n");
  CHECK(chat.turns() == 0);
}

// ----- batches --------------------------------------------------------------------------------

namespace {

// An example of `prompt` prompt tokens and `answer` answer tokens, ids counting up from `first`.
gpt2::SftExample example(int first, int prompt, int answer) {
  gpt2::SftExample e;
  for (int i = 0; i < prompt + answer; ++i) {
    e.tokens.push_back(first + i);
    e.assistant.push_back(i >= prompt ? 1 : 0);
  }
  return e;
}

}  // namespace

TEST_CASE("padding and packing put examples into (B, T) with -1 wherever nothing is learnt", "[batch]") {
  const int T = 8, PAD = 99;
  std::vector<gpt2::SftExample> examples = {example(10, 2, 2), example(20, 3, 1), example(30, 1, 8),
                                            example(40, 4, 4)};
  CHECK(gpt2::drop_long_examples(examples, T) == 1);  // 9 tokens: skipped
  REQUIRE(examples.size() == 3);
  SECTION("padding: one example per row; the last batch completed with empty rows") {
    auto batches = gpt2::make_sft_batches(examples, 2, T, gpt2::SftLayout::pad, PAD);
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].tokens ==
          std::vector<int>{10, 11, 12, 13, PAD, PAD, PAD, PAD, 20, 21, 22, 23, PAD, PAD, PAD, PAD});
    CHECK(batches[0].targets ==
          std::vector<int>{-1, 12, 13, -1, -1, -1, -1, -1, -1, -1, 23, -1, -1, -1, -1, -1});
    CHECK(batches[0].num_targets == 3);
    CHECK(batches[0].num_examples == 2);
    CHECK(batches[1].tokens ==
          std::vector<int>{40, 41, 42, 43, 44, 45, 46, 47, PAD, PAD, PAD, PAD, PAD, PAD, PAD, PAD});
    CHECK(batches[1].targets ==
          std::vector<int>{-1, -1, -1, 44, 45, 46, 47, -1, -1, -1, -1, -1, -1, -1, -1, -1});
    CHECK(batches[1].num_targets == 4);
    CHECK(batches[1].B == 2);
    CHECK(batches[1].T == T);
  }
  SECTION("packing: examples share a row while they fit; no target crosses from one to the next") {
    auto batches = gpt2::make_sft_batches(examples, 2, T, gpt2::SftLayout::pack, PAD);
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].tokens ==
          std::vector<int>{10, 11, 12, 13, 20, 21, 22, 23, 40, 41, 42, 43, 44, 45, 46, 47});
    CHECK(batches[0].targets ==
          std::vector<int>{-1, 12, 13, -1, -1, -1, 23, -1, -1, -1, -1, 44, 45, 46, 47, -1});
    CHECK(batches[0].num_targets == 7);
    CHECK(batches[0].num_examples == 3);
  }
  SECTION("an example longer than T is refused, not cut") {
    std::vector<gpt2::SftExample> too_long = {example(0, 5, 5)};
    CHECK_THROWS_WITH(gpt2::make_sft_batches(too_long, 1, T, gpt2::SftLayout::pad, PAD),
                      Contains("an example of 10 tokens does not fit in T = 8"));
    CHECK(gpt2::make_sft_batches({}, 2, T, gpt2::SftLayout::pack, PAD).empty());
  }
}

// ----- the Shakespeare datasets ---------------------------------------------------------------

namespace {

const std::string& shakespeare() {
  static const std::string text = gpt2::read_file(fs::path(gpt2::data_dir()) / "tinyshakespeare.txt");
  return text;
}

std::string committed(const std::string& name) {
  return gpt2::read_file(fs::path(gpt2::data_dir()) / "finetune" / name);
}

template <typename Example>
std::string as_jsonl(const std::vector<Example>& examples) {
  std::string text;
  for (const Example& e : examples) text += gpt2::to_jsonl_line(e) + "\n";
  return text;
}

}  // namespace

TEST_CASE("speeches of tiny Shakespeare", "[shakespeare]") {
  const auto small = gpt2::parse_speeches(
      "First Citizen:\nBefore we proceed.\n\nTITUS:\n\nAll:\nSpeak,\nspeak.\n\n\nROMEO:\nAy.\n");
  REQUIRE(small.size() == 3);  // TITUS has no lines: not a speech
  CHECK(small[0].speaker == "First Citizen");
  CHECK(small[0].text == "Before we proceed.");
  CHECK(small[0].offset == 0);
  CHECK(small[1].speaker == "All");
  CHECK(small[1].text == "Speak,\nspeak.");
  CHECK(small[1].lines == 2);
  CHECK(small[2].speaker == "ROMEO");
  CHECK(small[2].offset == 64);
  const auto speeches = gpt2::parse_speeches(shakespeare());
  CHECK(speeches.size() == 7097);
  for (const auto& s : speeches) {
    REQUIRE(shakespeare().compare(s.offset, s.speaker.size() + 2 + s.text.size(),
                                  s.speaker + ":\n" + s.text) == 0);
  }
  // The main job's cut (gpt2 prepare --val-fraction 0.1): 90% of the bytes, moved to a line start.
  CHECK(gpt2::heldout_start(shakespeare()) == 1003856);
  CHECK(shakespeare()[1003856 - 1] == '\n');
}

TEST_CASE("who speaks this line? classes, splits, unseen test text, baseline", "[shakespeare]") {
  const auto speeches = gpt2::parse_speeches(shakespeare());
  const size_t heldout = gpt2::heldout_start(shakespeare());
  const gpt2::SpeakerTask task = gpt2::make_speaker_task(speeches, heldout, 4);
  CHECK(task.speakers == std::vector<std::string>{"BAPTISTA", "KATHARINA", "PETRUCHIO", "TRANIO"});
  CHECK(task.train.size() == 249);
  CHECK(task.validation.size() == 48);
  CHECK(task.test.size() == 96);
  // Every validation and test speech lies in the text the main job never trained on.
  for (const auto* split : {&task.validation, &task.test}) {
    for (const gpt2::LabeledText& e : *split) {
      const size_t at = shakespeare().find(e.label + ":\n" + e.text + "\n");
      REQUIRE(at != std::string::npos);
      CHECK(at >= heldout);
    }
  }
  // No speech is in two splits.
  std::set<std::string> seen;
  for (const auto* split : {&task.train, &task.validation, &task.test})
    for (const gpt2::LabeledText& e : *split) CHECK(seen.insert(e.label + "|" + e.text).second);
  // The majority class of the training set (PETRUCHIO) is 38 of the 96 test speeches.
  CHECK(gpt2::majority_baseline(task.train, task.test) == Approx(38.0 / 96.0));
  // Five classes would take PROSPERO, of another play; two classes are the minimum.
  CHECK_THROWS_WITH(gpt2::make_speaker_task(speeches, heldout, 1), Contains("need at least 2 classes"));
}

TEST_CASE("the instruction set: answers follow from the passages; held-out passages are unseen",
          "[shakespeare]") {
  const auto speeches = gpt2::parse_speeches(shakespeare());
  const size_t heldout = gpt2::heldout_start(shakespeare());
  const gpt2::InstructionTask task = gpt2::make_instruction_task(speeches, heldout, 300, 90, 7);
  CHECK(task.train.size() == 300);
  CHECK(task.heldout.size() == 90);
  for (const auto* split : {&task.train, &task.heldout}) {
    std::set<std::string> prompts;
    for (size_t k = 0; k < split->size(); ++k) {
      const gpt2::InstructionExample& e = (*split)[k];
      CHECK(e.input.size() <= 120);
      CHECK(prompts.insert(e.instruction + "|" + e.input).second);  // no repeats
      // Where the passage is: wholly before the cut for training, after it for held-out.
      const size_t at =
          split == &task.train ? shakespeare().find(e.input) : shakespeare().find(e.input, heldout);
      REQUIRE(at != std::string::npos);
      if (split == &task.train) CHECK(at + e.input.size() <= heldout);
      // The answer, recomputed from the passage alone.
      const auto passage = gpt2::parse_speeches(e.input);
      REQUIRE(passage.size() >= 2);
      if (k % 3 == 0) {
        CHECK(e.instruction == "Who speaks last in this passage?");
        CHECK(e.output == passage.back().speaker);
      } else if (k % 3 == 1) {
        const std::string line = e.instruction.substr(10, e.instruction.size() - 12);  // Who says "LINE"?
        int found = 0;
        for (const auto& s : passage)
          if (s.text.find(line) != std::string::npos) {
            ++found;
            CHECK(e.output == s.speaker);
          }
        CHECK(found == 1);
      } else {
        int lines = 0;
        for (const auto& s : passage)
          if (e.instruction == "How many lines does " + s.speaker + " speak in this passage?")
            lines += s.lines;
        CHECK(lines > 0);
        CHECK(e.output == std::to_string(lines));
      }
    }
  }
}

TEST_CASE("data/finetune holds exactly what ch10_make_datasets writes", "[shakespeare]") {
  // The rules of shakespeare_tasks.h with make_datasets.cpp's settings; regenerate the files with
  //   build/bin/ch10_make_datasets data/tinyshakespeare.txt data/finetune
  const auto speeches = gpt2::parse_speeches(shakespeare());
  const size_t heldout = gpt2::heldout_start(shakespeare());
  const gpt2::SpeakerTask speakers = gpt2::make_speaker_task(speeches, heldout, 4);
  CHECK(committed("speakers_train.jsonl") == as_jsonl(speakers.train));
  CHECK(committed("speakers_validation.jsonl") == as_jsonl(speakers.validation));
  CHECK(committed("speakers_test.jsonl") == as_jsonl(speakers.test));
  const gpt2::InstructionTask sft = gpt2::make_instruction_task(speeches, heldout, 1500, 300, 1337);
  CHECK(committed("sft_train.jsonl") == as_jsonl(sft.train));
  CHECK(committed("sft_heldout.jsonl") == as_jsonl(sft.heldout));
  // And they read back through the readers.
  CHECK(gpt2::read_instruction_data(fs::path(gpt2::data_dir()) / "finetune" / "sft_train.jsonl").size() ==
        1500);
  CHECK(gpt2::read_labeled_texts(fs::path(gpt2::data_dir()) / "finetune" / "speakers_test.jsonl").size() ==
        96);
}

TEST_CASE("labelled texts into (B, T): first T tokens, the last position, empty rows ignored", "[batch]") {
  const gpt2::Tokenizer& tok = byte_tokenizer();  // one token per byte
  std::vector<gpt2::EncodedText> texts = {gpt2::encode_labeled_text(tok, "abc", 1, 5),
                                          gpt2::encode_labeled_text(tok, "abcdefgh", 0, 5),
                                          gpt2::encode_labeled_text(tok, "x", 2, 5)};
  CHECK(!texts[0].truncated);
  CHECK(texts[1].truncated);
  CHECK(tok.decode(texts[1].tokens) == "abcde");
  auto batches = gpt2::make_classification_batches(texts, 2, 5, 0);
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].last == std::vector<int>{2, 4});
  CHECK(batches[0].labels == std::vector<int>{1, 0});
  CHECK(std::vector<int>(batches[0].tokens.begin(), batches[0].tokens.begin() + 5) ==
        std::vector<int>{texts[0].tokens[0], texts[0].tokens[1], texts[0].tokens[2], 0, 0});
  CHECK(batches[1].num_examples == 1);
  CHECK(batches[1].last == std::vector<int>{0, 0});
  CHECK(batches[1].labels == std::vector<int>{2, -1});  // the empty row has no label
  CHECK_THROWS_WITH(gpt2::encode_labeled_text(tok, "", 0, 5), Contains("an empty text"));
}
