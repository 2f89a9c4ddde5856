// Tests of exercises 02, against the PyTorch fixture of chapter 02 (tests/reference/02_embeddings.py)
// and the sinusoidal formula itself.
#include <cmath>
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"
#include "tests/exercise_testing.h"

using exercise_testing::added;
using exercise_testing::check_rel;
using exercise_testing::prefilled;

namespace {
gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/02_embeddings.safetensors");
}
}  // namespace

TEST_CASE("02.1 positional_encoding matches the tutorial formula", "[exercise]") {
  auto f = fixture();
  for (std::string name : {"pe_t50_c16", "pe_t7_c9", "pe_t1_c4"}) {
    const auto& shape = f.info(name).shape;
    const int T = static_cast<int>(shape[0]), C = static_cast<int>(shape[1]);
    std::vector<float> pe(static_cast<size_t>(T) * C, NAN);
    exercise::positional_encoding(pe.data(), T, C);
    check_rel(pe, f.get_vector(name), 1e-5, name);
  }
}

TEST_CASE("02.2 embedding_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  // B = 3, T = 5, C = 6 with repeated tokens; B = 2, T = maxT = 8, C = 13; B = 1, T = 1.
  for (std::string name : {"b3t5", "b2t8", "b1t1"}) {
    const auto& shape = f.info(name + ".dout").shape;
    const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]), C = static_cast<int>(shape[2]);
    const std::vector<int64_t> ids = f.get_int(name + ".tokens");
    const std::vector<int> tokens(ids.begin(), ids.end());
    const std::vector<float> ref_wte = f.get_vector(name + ".dwte"), ref_wpe = f.get_vector(name + ".dwpe");
    const std::vector<float> wte0 = prefilled(ref_wte), wpe0 = prefilled(ref_wpe);
    std::vector<float> dwte = wte0, dwpe = wpe0;  // the answer must be added to these
    exercise::embedding_backward(dwte.data(), dwpe.data(), f.get_vector(name + ".dout").data(), tokens.data(),
                                 B, T, C);
    check_rel(added(dwte, wte0), ref_wte, 1e-4, name + " dwte (what was added to the buffer)");
    check_rel(added(dwpe, wpe0), ref_wpe, 1e-4, name + " dwpe (what was added to the buffer)");
  }
}

TEST_CASE("02.3 shift_position rotates PE[t] into PE[t + k]", "[exercise]") {
  for (int C : {2, 16, 64}) {
    const auto pe = [C](int t) {  // the formula, in double
      std::vector<double> row(C);
      for (int c = 0; c < C; c += 2) {
        const double a = t * std::pow(10000.0, -static_cast<double>(c) / C);
        row[c] = std::sin(a);
        row[c + 1] = std::cos(a);
      }
      return row;
    };
    for (int t : {0, 3, 17, 500}) {
      for (int k : {0, 1, 5, -3, 250}) {
        if (t + k < 0) continue;
        std::vector<double> out(C, NAN);
        const std::vector<double> from = pe(t), expected = pe(t + k);
        exercise::shift_position(out.data(), from.data(), k, C);
        double worst = 0;
        int at = 0;
        for (int c = 0; c < C; ++c) {
          const double err = std::fabs(out[c] - expected[c]);
          if (!(err <= worst)) worst = err, at = c;
        }
        INFO("C " << C << ", t " << t << ", k " << k << ": worst channel " << at << " = " << out[at]
                  << ", PE[t + k] has " << expected[at]);
        CHECK(worst < 1e-9);
      }
    }
  }
}
