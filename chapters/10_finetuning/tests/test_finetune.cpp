// Fine-tuning through the model: the classification head on the backend against PyTorch
// (tests/reference/10_classifier.py), what trains and what does not, the batch sources, and
// chapter 06's train() on them with an exact resume; the directories a run writes read back.
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/trainer.h"
#include "chapters/10_finetuning/finetune_batches.h"
#include "chapters/10_finetuning/finetune_model.h"
#include "chapters/10_finetuning/lora_adapter.h"
#include "chapters/10_finetuning/lora_model.h"
#include "chapters/10_finetuning/sequence_classifier.h"
#include "chapters/10_finetuning/tests/helpers.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using ch10_test::check_rel;
using ch10_test::fixtures;
using ch10_test::ints;

namespace {

gpt2::GPT2 tiny(gpt2::Backend& backend) {
  gpt2::GPT2 model = gpt2::GPT2::load(fixtures() / "05_hf_tiny", backend);
  model.set_dropout({});  // the references have none
  return model;
}

// A learnable toy task for the tiny model (V = 97): the class of a text is its first token mod 3.
std::vector<gpt2::EncodedText> toy_texts(int n, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<gpt2::EncodedText> texts;
  for (int i = 0; i < n; ++i) {
    gpt2::EncodedText e;
    const int len = 3 + static_cast<int>(rng.below(6));
    for (int t = 0; t < len; ++t) e.tokens.push_back(static_cast<int>(rng.below(97)));
    e.label = e.tokens[0] % 3;
    texts.push_back(e);
  }
  return texts;
}

}  // namespace

TEST_CASE("classifier through the model: logits, loss and every gradient match PyTorch",
          "[finetune][parity]") {
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "10_classifier.safetensors");
  const std::vector<int> tokens = ints(f, "tokens"), last = ints(f, "last"), labels = ints(f, "labels");
  const gpt2::Tensor score = f.get("score");
  const int B = 3, T = 10;
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model = tiny(cpu);
  gpt2::SequenceClassifier head(model, score, /*through_model=*/true);
  model.set_mode(gpt2::GPT2::Mode::training);
  const float loss = head.forward(tokens.data(), last.data(), labels.data(), B, T);
  CHECK(loss == Approx(f.get_vector("loss")[0]).epsilon(1e-5));
  check_rel(head.logits(), f.get_vector("class_logits"), 1e-5, "class logits");
  model.zero_grad();
  head.backward();
  const std::vector<float> g = model.grads_to_host().to_vector();
  for (const gpt2::ParamSpec& s : model.layout().specs())
    check_rel(model.grad(s.name).span(), f.get_vector("grad." + s.name), 1e-4, s.name);
  const std::span<const float> dscore(g.data() + model.num_parameters() + head.offset(), score.numel());
  check_rel(dscore, f.get_vector("grad.score.weight"), 1e-4, "score.weight");
  // A second backward adds.
  head.backward();
  std::vector<float> doubled = g;
  for (float& x : doubled) x *= 2;
  check_rel(model.grads_to_host().span(), doubled, 1e-6, "a second backward adds");
}

TEST_CASE("the head alone trains alone: only its gradient, the PyTorch one", "[finetune]") {
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "10_classifier.safetensors");
  const std::vector<int> tokens = ints(f, "tokens"), last = ints(f, "last"), labels = ints(f, "labels");
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model = tiny(cpu);
  gpt2::SequenceClassifier head(model, f.get("score"), /*through_model=*/false);
  model.set_trainable_from(model.num_parameters());
  model.set_mode(gpt2::GPT2::Mode::training);
  CHECK(model.grads().size() == 3 * 64);  // the head's numbers, nothing of the model's
  head.forward(tokens.data(), last.data(), labels.data(), 3, 10);
  model.zero_grad();
  head.backward();
  check_rel(model.grads_to_host().span(), f.get_vector("grad.score.weight"), 1e-4, "score.weight");
}

TEST_CASE("a PEFT classifier adapter, unmerged, with its head: the script's class logits",
          "[finetune][peft]") {
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "10_peft_logits.safetensors");
  const std::vector<int> tokens = ints(f, "tokens"), last = ints(f, "last");
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model = tiny(cpu);
  const gpt2::LoraAdapter a = gpt2::read_lora_adapter(fixtures() / "10_peft_adapter_cls", model.config());
  gpt2::LoraModel lora(model, a);
  gpt2::SequenceClassifier head(model, a.score, true);
  head.forward(tokens.data(), last.data(), nullptr, 2, 12);
  check_rel(head.logits(), f.get_vector("class_logits"), 1e-5, "class logits");
}

TEST_CASE("classification batches: the label at each row's last position; every text once an epoch",
          "[finetune][data]") {
  const std::vector<gpt2::EncodedText> texts = toy_texts(10, 1);
  gpt2::ClassificationBatches batches(texts, 4, 8, /*shuffle=*/true, 7, /*pad_id=*/0, "toy");
  CHECK(batches.batches_per_epoch() == 3);  // 4 + 4 + 2 (the last completed with empty rows)
  std::vector<int> seen;
  std::vector<int> in(32), tg(32), last(4), labels(4);
  for (int i = 0; i < 3; ++i) {
    batches.next_batch(in.data(), tg.data());
    gpt2::classification_rows(tg.data(), 4, 8, last.data(), labels.data());
    for (int r = 0; r < 4; ++r) {
      if (labels[r] < 0) continue;
      // The row is a text: its tokens from 0 to last, then padding.
      bool found = false;
      for (size_t k = 0; k < texts.size(); ++k) {
        const auto& t = texts[k].tokens;
        if (static_cast<int>(t.size()) == last[r] + 1 && std::equal(t.begin(), t.end(), in.begin() + r * 8)) {
          CHECK(labels[r] == texts[k].label);
          seen.push_back(static_cast<int>(k));
          found = true;
        }
      }
      CHECK(found);
    }
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // Resumable: a state restored gives the same next batches.
  const gpt2::DataLoaderState s = batches.state();
  std::vector<int> a(32), b(32), ta(32), tb(32);
  batches.next_batch(a.data(), ta.data());
  batches.set_state(s);
  batches.next_batch(b.data(), tb.data());
  CHECK(a == b);
  CHECK(ta == tb);
  CHECK_THROWS_WITH(batches.set_state({0, 99, s.epoch_rng_state}), Catch::Contains("does not fit"));
}

TEST_CASE("fine-tuning a classifier with train(): the loss falls, Ctrl-C and resume give the same run",
          "[finetune][resume]") {
  for (gpt2::FinetuneTrains trains : {gpt2::FinetuneTrains::head, gpt2::FinetuneTrains::last_blocks,
                                      gpt2::FinetuneTrains::everything, gpt2::FinetuneTrains::lora}) {
    gpt2::FinetuneSetup setup;
    setup.task = gpt2::FinetuneTask::classify;
    setup.trains = trains;
    setup.labels = {"zero", "one", "two"};
    setup.lora.r = 4;
    setup.lora.lora_alpha = 8;
    INFO(gpt2::describe(setup));
    const fs::path dir = gpt2::test_temp_dir("10_finetune_classify");
    gpt2::TrainConfig c;
    c.out_dir = dir / "straight";
    c.batch_size = 4;
    c.seq_len = 8;
    c.grad_accum_steps = 2;
    c.steps = 6;
    c.lr = 3e-3f;
    c.warmup_steps = 1;
    c.eval_interval = 3;
    c.eval_steps = 2;
    c.checkpoint_interval = 2;
    c.progress = false;
    auto run = [&](const gpt2::TrainConfig& config, const gpt2::StepCallback& on_step) {
      gpt2::CpuBackend cpu;
      gpt2::GPT2 model = gpt2::GPT2::load(fixtures() / "05_hf_tiny", cpu);  // dropout 0.1, as its config says
      gpt2::FinetuneModel ft(model, setup);
      gpt2::ClassificationBatches train(toy_texts(21, 2), 4, 8, true, config.seed, 0, "train");
      gpt2::ClassificationBatches val(toy_texts(9, 3), 4, 8, false, config.seed, 0, "val");
      gpt2::TrainConfig tc = config;
      tc.train_batches = &train;
      tc.val_batches = &val;
      gpt2::TrainResult r = gpt2::train(ft, tc, on_step);
      std::vector<float> losses;
      for (const auto& m : r.history) losses.push_back(m.train_loss);
      return std::make_pair(losses, model.params_to_host().to_vector());
    };
    const auto [straight, weights] = run(c, {});
    REQUIRE(straight.size() == 6);
    CHECK(straight.back() < straight.front());
    gpt2::TrainConfig stopped = c;
    stopped.out_dir = dir / "stopped";
    const auto [first, w1] = run(stopped, [](const gpt2::StepMetrics& m) {
      if (m.step == 3) std::raise(SIGINT);
    });
    REQUIRE(first.size() == 3);
    stopped.resume = true;
    const auto [rest, w2] = run(stopped, {});
    std::vector<float> resumed = first;
    resumed.insert(resumed.end(), rest.begin(), rest.end());
    CHECK(resumed == straight);  // bit for bit
    CHECK(w2 == weights);
    fs::remove_all(dir);
  }
}

TEST_CASE("what a fine-tuning run writes reads back: the classifier directory, the adapter, SFT",
          "[finetune]") {
  const fs::path dir = gpt2::test_temp_dir("10_finetune_dirs");
  const auto f = gpt2::SafetensorsFile::open(fixtures() / "10_classifier.safetensors");
  const std::vector<int> tokens = ints(f, "tokens"), last = ints(f, "last");
  gpt2::CpuBackend cpu;
  for (gpt2::FinetuneTrains trains : {gpt2::FinetuneTrains::everything, gpt2::FinetuneTrains::lora}) {
    gpt2::GPT2 model = tiny(cpu);
    gpt2::FinetuneSetup setup;
    setup.task = gpt2::FinetuneTask::classify;
    setup.trains = trains;
    setup.labels = {"a", "b", "c"};
    setup.pad_token_id = 0;
    gpt2::FinetuneModel ft(model, setup);
    // A few random steps' worth of change: perturb everything that trains.
    std::vector<float> p = gpt2::to_host(cpu, ft.params().data(), ft.params().size());
    gpt2::Rng rng(3);
    for (float& x : p) x += 0.05f * rng.normal();
    cpu.copy_to_device(ft.params().data(), p.data(), p.size() * sizeof(float));
    const std::vector<float> expected = ft.classify(tokens.data(), last.data(), 3, 10);
    // The classifier directory: a GPT2ForSequenceClassification with its labels.
    ft.write_model_dir(dir / "model", fixtures() / "12_tiny_model");
    CHECK(gpt2::is_classifier_dir(dir / "model"));
    gpt2::GPT2 loaded = gpt2::GPT2::load(dir / "model", cpu);
    const gpt2::ClassifierHead head = gpt2::read_classifier_head(dir / "model", loaded.config());
    CHECK(head.labels == setup.labels);
    CHECK(head.pad_token_id == 0);
    gpt2::SequenceClassifier again(loaded, head.score, false);
    again.forward(tokens.data(), last.data(), nullptr, 3, 10);
    check_rel(again.logits(), expected, 1e-5, "logits of the saved classifier");
    if (trains == gpt2::FinetuneTrains::lora) {
      // The adapter in PEFT's layout, with the head and the labels; applied to the base: the same.
      ft.write_adapter_dir(dir / "adapter");
      CHECK(gpt2::read_adapter_labels(dir / "adapter") == setup.labels);
      gpt2::GPT2 base = tiny(cpu);
      const gpt2::LoraAdapter a = gpt2::read_lora_adapter(dir / "adapter", base.config());
      CHECK(a.config.task_type == "SEQ_CLS");
      gpt2::LoraModel lora(base, a);
      gpt2::SequenceClassifier h(base, a.score, false);
      h.forward(tokens.data(), last.data(), nullptr, 3, 10);
      check_rel(h.logits(), expected, 1e-5, "logits of the base with the saved adapter");
    }
    // A checkpoint's trainable tensors read back exactly.
    ft.save(dir / "ckpt");
    const std::vector<float> saved = gpt2::to_host(cpu, ft.params().data(), ft.params().size());
    cpu.zero(ft.params().data(), ft.params().size());
    ft.load(dir / "ckpt");
    CHECK(gpt2::to_host(cpu, ft.params().data(), ft.params().size()) == saved);
    fs::remove_all(dir / "model");
  }
  // A classifier directory whose head does not fit the model names the problem.
  CHECK_THROWS_WITH(
      gpt2::read_classifier_head(fixtures() / "05_hf_tiny", gpt2::GPT2Config::make(2, 4, 64, 32, 97)),
      Catch::Contains("no 'score.weight': not a sequence classifier"));
  fs::remove_all(dir);
}

TEST_CASE("instruction fine-tuning with LoRA: SFT batches, the loss on the answers, the merged model",
          "[finetune][sft]") {
  // Examples whose answer is the instruction's first token again: learnable by a tiny model.
  gpt2::Rng rng(5);
  std::vector<gpt2::SftExample> examples;
  for (int i = 0; i < 30; ++i) {
    gpt2::SftExample e;
    const int n = 3 + static_cast<int>(rng.below(5));
    for (int t = 0; t < n; ++t) e.tokens.push_back(1 + static_cast<int>(rng.below(90)));
    e.assistant.assign(e.tokens.size(), 0);
    e.tokens.push_back(e.tokens[0]);
    e.tokens.push_back(96);  // the end of the turn
    e.assistant.resize(e.tokens.size(), 1);
    examples.push_back(e);
  }
  gpt2::SftBatches batches(examples, 4, 12, gpt2::SftLayout::pack, true, 1, 0, "sft");
  CHECK(batches.batches_per_epoch() >= 2);
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model = tiny(cpu);
  gpt2::FinetuneSetup setup;
  setup.trains = gpt2::FinetuneTrains::lora;
  setup.lora.target_modules = {"c_attn", "c_proj"};
  gpt2::FinetuneModel ft(model, setup);
  CHECK(ft.num_trainable() == 2 * (8 * (64 + 192) + 8 * 128 + 8 * (256 + 64)));
  const fs::path dir = gpt2::test_temp_dir("10_finetune_sft");
  gpt2::TrainConfig c;
  c.out_dir = dir / "run";
  c.batch_size = 4;
  c.seq_len = 12;
  c.steps = 10;
  c.lr = 1e-2f;
  c.warmup_steps = 1;
  c.eval_interval = 0;
  c.progress = false;
  c.train_batches = &batches;
  const gpt2::TrainResult r = gpt2::train(ft, c);
  CHECK(r.history.back().train_loss < r.history.front().train_loss);
  // The merged model computes what the adapted one computes.
  std::vector<int> tokens(12, 5);
  model.set_mode(gpt2::GPT2::Mode::inference);
  model.forward(tokens.data(), nullptr, 1, 12);
  const std::vector<float> adapted(model.logits().begin(), model.logits().end());
  ft.write_model_dir(dir / "merged", fixtures() / "12_tiny_model");
  gpt2::GPT2 merged = gpt2::GPT2::load(dir / "merged", cpu);
  merged.forward(tokens.data(), nullptr, 1, 12);
  check_rel(merged.logits(), adapted, 1e-5, "merged against adapted logits");
  fs::remove_all(dir);
}
