// Tests of exercises 10, against the PyTorch fixture of chapter 10
// (tests/reference/10_finetuning_ops.py), finite differences, and the chat template's text.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "chapters/04_transformer_block/linear.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/10_finetuning_ops.safetensors");
}

void check_rel(const std::vector<float>& ours, const std::vector<float>& ref, double tol,
               const std::string& what) {
  auto r = gpt2::rel_close(ours, ref, tol, what);
  INFO(r.message);
  CHECK(r.ok);
}

std::vector<float> twice_minus(const std::vector<float>& after_two, const std::vector<float>& start) {
  std::vector<float> d(after_two.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = (after_two[i] - start[i]) / 2;
  return d;
}

}  // namespace

TEST_CASE("10.1 sft_loss: PyTorch's loss with labels -100 outside the answer, gradient added", "[exercise]") {
  auto f = fixture();
  const auto& shape = f.info("sft.logits").shape;
  const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]), V = static_cast<int>(shape[2]);
  std::vector<int64_t> tok64 = f.get_int("sft.tokens"), mask64 = f.get_int("sft.assistant");
  std::vector<int> tokens(tok64.begin(), tok64.end());
  std::vector<uint8_t> assistant(mask64.begin(), mask64.end());
  std::vector<float> logits = f.get_vector("sft.logits");
  std::vector<float> dlogits(logits.size(), 0.5f);  // not zero: the gradient must be added
  const float loss =
      exercise::sft_loss(dlogits.data(), logits.data(), tokens.data(), assistant.data(), B, T, V);
  CHECK(loss == Approx(f.get_vector("sft.loss")[0]).epsilon(1e-5));
  for (float& d : dlogits) d -= 0.5f;
  check_rel(dlogits, f.get_vector("sft.dlogits"), 1e-4, "dlogits");
  // No assistant token: loss 0, no gradient.
  std::vector<uint8_t> none(assistant.size(), 0);
  std::vector<float> d0(logits.size(), 0.0f);
  CHECK(exercise::sft_loss(d0.data(), logits.data(), tokens.data(), none.data(), B, T, V) == 0.0f);
  for (float d : d0) CHECK(d == 0.0f);
  // Logits near 1000: exp without the maximum subtracted overflows.
  std::vector<float> big(logits.size());
  for (size_t i = 0; i < big.size(); ++i) big[i] = 1000.0f + logits[i];
  std::vector<float> dbig(logits.size(), 0.0f);
  const float loss_big =
      exercise::sft_loss(dbig.data(), big.data(), tokens.data(), assistant.data(), B, T, V);
  CHECK(std::isfinite(loss_big));
  CHECK(loss_big == Approx(loss).epsilon(1e-3));
}

TEST_CASE("10.2 lora_forward and lora_backward: PEFT's computation, gradients added", "[exercise]") {
  auto f = fixture();
  for (std::string name : {"lora_r3", "lora_r1", "lora_rs"}) {
    INFO(name);
    const int N = static_cast<int>(f.info(name + ".inp").shape[0]);
    const int C = static_cast<int>(f.info(name + ".inp").shape[1]);
    const int OC = static_cast<int>(f.info(name + ".weight").shape[1]);
    const int r = static_cast<int>(f.info(name + ".lora_A").shape[0]);
    const float s = f.get_vector(name + ".scaling")[0];
    std::vector<float> x = f.get_vector(name + ".inp"), W = f.get_vector(name + ".weight"),
                       b = f.get_vector(name + ".bias"), A = f.get_vector(name + ".lora_A"),
                       Bm = f.get_vector(name + ".lora_B"), dout = f.get_vector(name + ".dout");
    std::vector<float> out(static_cast<size_t>(N) * OC), u(static_cast<size_t>(N) * r);
    gpt2::linear_forward(out.data(), x.data(), W.data(), b.data(), N, C, OC);  // the base layer
    exercise::lora_forward(out.data(), u.data(), x.data(), A.data(), Bm.data(), s, N, C, OC, r);
    check_rel(out, f.get_vector(name + ".out"), 1e-5, "out");
    // dx: the base layer's share (chapter 04) plus yours; called twice on buffers starting at 1.
    std::vector<float> base_dx(x.size(), 0.0f);
    gpt2::linear_backward<float>(base_dx.data(), nullptr, nullptr, dout.data(), x.data(), W.data(), N, C, OC);
    std::vector<float> dx(x.size(), 1.0f), dA(A.size(), 1.0f), dB(Bm.size(), 1.0f), ones_x = dx, ones_A = dA,
                                                                                    ones_B = dB;
    for (int k = 0; k < 2; ++k)
      exercise::lora_backward(dx.data(), dA.data(), dB.data(), dout.data(), x.data(), u.data(), A.data(),
                              Bm.data(), s, N, C, OC, r);
    std::vector<float> lora_dx = twice_minus(dx, ones_x);
    for (size_t i = 0; i < lora_dx.size(); ++i) lora_dx[i] += base_dx[i];
    check_rel(lora_dx, f.get_vector(name + ".dinp"), 1e-4, "dx");
    check_rel(twice_minus(dA, ones_A), f.get_vector(name + ".dlora_A"), 1e-4, "dA");
    check_rel(twice_minus(dB, ones_B), f.get_vector(name + ".dlora_B"), 1e-4, "dB");
  }
}

TEST_CASE("10.2 lora_backward matches finite differences of lora_forward", "[exercise]") {
  const int N = 3, C = 4, OC = 5, r = 2;
  const float s = 0.75f;
  gpt2::Rng rng(9);
  std::vector<float> x(N * C), A(r * C), Bm(OC * r), dout(N * OC);
  rng.fill_normal(x);
  rng.fill_normal(A);
  rng.fill_normal(Bm);
  rng.fill_normal(dout);
  auto loss = [&]() {  // sum of dout * (the LoRA term), in float: central differences with eps 1e-2
    std::vector<float> out(N * OC, 0.0f), u(N * r);
    exercise::lora_forward(out.data(), u.data(), x.data(), A.data(), Bm.data(), s, N, C, OC, r);
    double l = 0;
    for (int i = 0; i < N * OC; ++i) l += static_cast<double>(out[i]) * dout[i];
    return l;
  };
  std::vector<float> out(N * OC, 0.0f), u(N * r), dx(N * C, 0.0f), dA(r * C, 0.0f), dB(OC * r, 0.0f);
  exercise::lora_forward(out.data(), u.data(), x.data(), A.data(), Bm.data(), s, N, C, OC, r);
  exercise::lora_backward(dx.data(), dA.data(), dB.data(), dout.data(), x.data(), u.data(), A.data(),
                          Bm.data(), s, N, C, OC, r);
  for (auto [param, grad] : {std::pair{&x, &dx}, std::pair{&A, &dA}, std::pair{&Bm, &dB}}) {
    for (size_t i = 0; i < param->size(); ++i) {
      const float saved = (*param)[i];
      (*param)[i] = saved + 1e-2f;
      const double plus = loss();
      (*param)[i] = saved - 1e-2f;
      const double minus = loss();
      (*param)[i] = saved;
      CHECK((*grad)[i] == Approx((plus - minus) / 2e-2).margin(2e-3).epsilon(2e-3));
    }
  }
}

TEST_CASE("10.3 lora_merge: PEFT's W + transpose(B A) * scaling", "[exercise]") {
  auto f = fixture();
  for (std::string name : {"lora_r3", "lora_r1", "lora_rs"}) {
    INFO(name);
    const int C = static_cast<int>(f.info(name + ".inp").shape[1]);
    const int OC = static_cast<int>(f.info(name + ".weight").shape[1]);
    const int r = static_cast<int>(f.info(name + ".lora_A").shape[0]);
    std::vector<float> W = f.get_vector(name + ".weight");
    exercise::lora_merge(W.data(), f.get_vector(name + ".lora_A").data(),
                         f.get_vector(name + ".lora_B").data(), f.get_vector(name + ".scaling")[0], C, OC, r);
    check_rel(W, f.get_vector(name + ".merged_weight"), 1e-5, "merged weight");
  }
}

TEST_CASE("10.4 encode_turn: the template's text, token by token, and the mask", "[exercise]") {
  // A byte-level tokenizer: one token per byte (ids in GPT-2's byte order), <|endoftext|> = 256.
  const gpt2::Tokenizer tok =
      gpt2::Tokenizer::load(std::filesystem::path(gpt2::fixture_dir()) / "12_tiny_model");
  const std::string prompt = "### Instruction:\nAdd\n\n### Input:\n2 and 3\n\n### Response:\n";
  exercise::EncodedTurn e = exercise::encode_turn(tok, "Add", "2 and 3", "5");
  std::vector<int> expected = tok.encode(prompt + "5");
  expected.push_back(256);
  CHECK(e.tokens == expected);
  REQUIRE(e.assistant.size() == expected.size());
  for (size_t t = 0; t < expected.size(); ++t) CHECK(e.assistant[t] == (t >= prompt.size() ? 1 : 0));
  // Without an input there is no Input section.
  e = exercise::encode_turn(tok, "Greet", "", "Hi");
  CHECK(tok.decode(std::span<const int>(e.tokens).first(e.tokens.size() - 1)) ==
        "### Instruction:\nGreet\n\n### Response:\nHi");
  // GPT-2's tokenizer: pieces encoded one by one; "<|endoftext|>" typed in the text is not the token.
  const gpt2::Tokenizer gpt2_tok = gpt2::Tokenizer::load(std::filesystem::path(gpt2::data_dir()) / "gpt2");
  e = exercise::encode_turn(gpt2_tok, "Repeat: <|endoftext|>", "", "No");
  std::vector<int> want;
  for (const std::string& piece : {std::string("### Instruction:\n"), std::string("Repeat: <|endoftext|>"),
                                   std::string("\n\n### Response:\n"), std::string("No")}) {
    const std::vector<int> ids = gpt2_tok.encode(piece);
    want.insert(want.end(), ids.begin(), ids.end());
  }
  want.push_back(50256);
  CHECK(e.tokens == want);
  CHECK(std::count(e.tokens.begin(), e.tokens.end(), 50256) == 1);
  CHECK(e.assistant.back() == 1);
  CHECK(e.assistant[e.assistant.size() - 2] == 1);  // "No"
  CHECK(e.assistant[e.assistant.size() - 3] == 0);  // the end of the response marker
}
