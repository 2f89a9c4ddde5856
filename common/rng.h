/// @file rng.h
/// @brief A small, documented, deterministic random generator: same seed, same numbers, everywhere.
///
/// The algorithm is fixed so that a seed means the same weights and the same samples on every
/// machine and compiler (std::mt19937 is portable too, but std::normal_distribution is not):
///  - the 64-bit state is initialised from the seed by one step of SplitMix64 (so seed 0 works);
///  - next_u32() is xorshift64* (Marsaglia's xorshift, then a multiply, keep the top 32 bits),
///    the generator llm.c uses;
///  - uniform() takes the top 24 bits of next_u32(), giving a float in [0, 1) exactly
///    representable in float32;
///  - normal() is the Box-Muller transform of two uniforms (computed in double), one sample per
///    call, so the whole state is the single 64-bit word returned by state().
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>

namespace gpt2 {

class Rng {
 public:
  explicit Rng(uint64_t seed = 1337) { seed_with(seed); }

  /// Restarts the sequence for `seed`.
  void seed_with(uint64_t seed) {
    // SplitMix64 finaliser: spreads the seed's bits over the whole word, never 0 in practice.
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    state_ = (z ^ (z >> 31)) | 1;  // xorshift needs a non-zero state
  }

  /// xorshift64*: 32 uniformly distributed bits.
  uint32_t next_u32() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  }

  /// Uniform float in [0, 1).
  float uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }

  /// Uniform integer in [0, n), n > 0 (by rejection, so every value is equally likely).
  uint32_t below(uint32_t n) {
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    uint32_t r;
    do r = next_u32();
    while (r >= limit);
    return r % n;
  }

  /// Normal sample with the given mean and standard deviation (Box-Muller).
  float normal(float mean = 0.0f, float std = 1.0f) {
    double u1 = (static_cast<double>(next_u32()) + 1.0) / 4294967296.0;  // (0, 1]: log is finite
    double u2 = static_cast<double>(next_u32()) / 4294967296.0;          // [0, 1)
    double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    return static_cast<float>(mean + std * z);
  }

  /// Fills out with normal(mean, std) samples, in order.
  void fill_normal(std::span<float> out, float mean = 0.0f, float std = 1.0f) {
    for (float& x : out) x = normal(mean, std);
  }
  /// Fills out with uniform samples in [lo, hi).
  void fill_uniform(std::span<float> out, float lo = 0.0f, float hi = 1.0f) {
    for (float& x : out) x = lo + (hi - lo) * uniform();
  }

  /// The whole state, for checkpoints: set_state(state()) continues the sequence exactly.
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s == 0 ? 1 : s; }

 private:
  uint64_t state_ = 1;
};

}  // namespace gpt2
