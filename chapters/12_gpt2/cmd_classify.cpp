// gpt2 classify: a fine-tuned classifier (chapter 10) on a text from stdin, or on a labelled file.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <numeric>

#include <nlohmann/json.hpp>

#include "chapters/10_finetuning/classification_batch.h"
#include "chapters/10_finetuning/finetune_model.h"
#include "chapters/10_finetuning/jsonl.h"
#include "chapters/10_finetuning/sequence_classifier.h"
#include "chapters/12_gpt2/adapter_option.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/model_dir.h"
#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

namespace {

// A classifier ready to run: the model (with its adapter, if any), the head and the class names.
struct Classifier {
  LoadedModel m;
  std::unique_ptr<LoraModel> lora;
  std::unique_ptr<SequenceClassifier> head;
  std::vector<std::string> labels;
};

// `--model` is a classifier directory (RUN_DIR/model of `gpt2 finetune --task classify`, or
// transformers' GPT2ForSequenceClassification), or a base model whose `--adapter` carries the head
// (RUN_DIR/adapter of a LoRA run, or PEFT's SEQ_CLS adapter).
Classifier load_classifier(const ArgParser& p) {
  Classifier c;
  c.m = load_model(p.get("--model"), backend_options(p));
  if (p.given("--adapter")) {
    const LoraAdapter a = read_adapter_option(p.get("--adapter"), c.m);
    GPT2_CHECK(a.config.has_score_head(), "--adapter: '", p.get("--adapter"),
               "' has no classification head (task_type ", a.config.task_type,
               "); a language model's adapter goes with gpt2 generate, eval or chat");
    c.labels = read_adapter_labels(p.get("--adapter"));
    if (c.labels.empty())  // PEFT's own files name no classes: transformers' default names
      for (int k = 0; k < a.score.shape()[0]; ++k) c.labels.push_back(cat("LABEL_", k));
    GPT2_CHECK(static_cast<int64_t>(c.labels.size()) == a.score.shape()[0], "--adapter: ", kAdapterLabelsFile,
               " names ", c.labels.size(), " classes but the head has ", a.score.shape()[0]);
    c.lora = std::make_unique<LoraModel>(*c.m.model, a);
    c.head = std::make_unique<SequenceClassifier>(*c.m.model, a.score, false);
  } else {
    GPT2_CHECK(
        is_classifier_dir(c.m.dir), "--model: '", c.m.dir.string(),
        "' is not a classifier (its config.json has no id2label, or model.safetensors no score.weight); "
        "make one with 'gpt2 finetune --task classify', or give the LoRA classifier's --adapter");
    ClassifierHead h = read_classifier_head(c.m.dir, c.m.model->config());
    c.labels = std::move(h.labels);
    c.head = std::make_unique<SequenceClassifier>(*c.m.model, h.score, false);
  }
  c.m.model->set_mode(GPT2::Mode::inference);
  return c;
}

// The class logits of `texts`, K per text, in batches of B.
std::vector<float> class_logits(Classifier& c, const std::vector<EncodedText>& texts, int B, int T) {
  const int pad = c.m.tokenizer->eot_id() >= 0 ? c.m.tokenizer->eot_id() : 0;
  std::vector<float> all;
  for (const ClassificationBatch& b : make_classification_batches(texts, B, T, pad)) {
    c.head->forward(b.tokens.data(), b.last.data(), nullptr, B, T);
    const std::vector<float> l = c.head->logits();
    all.insert(all.end(), l.begin(),
               l.begin() + static_cast<std::ptrdiff_t>(b.num_examples) * c.head->num_labels());
  }
  return all;
}

int cmd_classify(std::span<const std::string> args, CommandIO io) {
  ArgParser p("gpt2 classify",
              "Reads a text on stdin and prints the class a fine-tuned classifier (chapter 10) gives it,\n"
              "with every class's probability, most probable first. A final line break is not part of\n"
              "the text. A text longer than the model's context keeps its first tokens. With --eval\n"
              "FILE, classifies every labelled text of a JSONL file ({\"text\", \"label\"} lines) and\n"
              "prints the accuracy.");
  p.option("--model", "DIR",
           "a classifier directory (RUN_DIR/model of gpt2 finetune --task classify), "
           "or the base model of --adapter",
           "", true);
  add_adapter_option(p);
  p.option("--eval", "FILE", "labelled texts (JSONL) to measure the accuracy on, instead of stdin");
  p.option("--batch-size", "B", "texts per forward pass with --eval", "8");
  add_backend_options(p);
  p.flag("--json", "print {\"label\": ..., \"probabilities\": {label: p, ...}} (with --eval: the counts)");
  if (!p.parse(args, io.out)) return 0;
  Classifier c = load_classifier(p);
  const Tokenizer& tok = *c.m.tokenizer;
  const int K = c.head->num_labels();
  const int context = c.m.model->config().n_positions;

  if (p.given("--eval")) {
    const std::string file = p.get("--eval");
    const std::vector<LabeledText> examples = read_labeled_texts(file);
    const std::vector<int> ids = label_ids(examples, c.labels, file);
    std::vector<EncodedText> texts;
    int T = 1;
    for (size_t i = 0; i < examples.size(); ++i) {
      texts.push_back(encode_labeled_text(tok, examples[i].text, ids[i], context));
      T = std::max(T, static_cast<int>(texts.back().tokens.size()));
    }
    const int B = static_cast<int>(p.get_int("--batch-size", 1, 4096));
    const std::vector<float> logits = class_logits(c, texts, B, T);
    int correct = 0;
    std::vector<int> per_class(K, 0), per_class_correct(K, 0);
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto row = logits.begin() + static_cast<std::ptrdiff_t>(i) * K;
      const int predicted = static_cast<int>(std::max_element(row, row + K) - row);
      ++per_class[ids[i]];
      if (predicted == ids[i]) {
        ++correct;
        ++per_class_correct[ids[i]];
      }
    }
    const double accuracy = static_cast<double>(correct) / static_cast<double>(texts.size());
    if (p.given("--json")) {
      nlohmann::json j = {{"examples", texts.size()}, {"correct", correct}, {"accuracy", accuracy}};
      for (int k = 0; k < K; ++k)
        j["per_class"][c.labels[k]] = {{"examples", per_class[k]}, {"correct", per_class_correct[k]}};
      io.out << j.dump() << "\n";
    } else {
      char line[160];
      std::snprintf(line, sizeof line, "accuracy %.4f (%d of %zu) on %s\n", accuracy, correct, texts.size(),
                    file.c_str());
      io.out << line;
      for (int k = 0; k < K; ++k)
        io.out << "  " << c.labels[k] << ": " << per_class_correct[k] << " of " << per_class[k] << "\n";
    }
    return 0;
  }

  std::string text(std::istreambuf_iterator<char>(io.in), {});
  // `echo TEXT |` and a text file end with a line break that is not part of the text: left in,
  // it would be the last token, the one the head reads. Any other byte is the text's, invalid
  // UTF-8 too (the tokenizer reads bytes), as gpt2 generate reads --prompt-file.
  if (text.ends_with('\n')) {
    text.pop_back();
    if (text.ends_with('\r')) text.pop_back();
  }
  GPT2_CHECK(!text.empty(), "gpt2 classify: stdin is empty; give the text to classify on stdin");
  const EncodedText e = encode_labeled_text(tok, text, -1, context);
  const int T = static_cast<int>(e.tokens.size());
  const std::vector<float> probs = class_probabilities(class_logits(c, {e}, 1, T));
  std::vector<int> order(K);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
  if (p.given("--json")) {
    nlohmann::json j = {{"label", c.labels[order[0]]}, {"truncated", e.truncated}};
    for (int k = 0; k < K; ++k) j["probabilities"][c.labels[k]] = probs[k];
    io.out << j.dump() << "\n";
  } else {
    io.out << c.labels[order[0]] << "\n";
    for (int k : order) {
      char line[64];
      std::snprintf(line, sizeof line, "%.4f", probs[k]);
      io.out << "  " << line << "  " << c.labels[k] << "\n";
    }
  }
  if (e.truncated)
    io.err << "note: the text is longer than the context; its first " << T << " tokens were read\n";
  return 0;
}

}  // namespace

void register_classify_commands(std::vector<Command>& commands) {
  commands.push_back({{"classify"}, "classify a text with a fine-tuned classifier", cmd_classify});
}

}  // namespace gpt2
