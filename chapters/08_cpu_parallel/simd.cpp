#include "chapters/08_cpu_parallel/simd.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace gpt2 {

Simd detected_simd() {
#ifdef GPT2_X86
  // AVX-512 needs the CPU's support (cpuid) and the operating system's (it must save the 512-bit
  // registers on a context switch); __builtin_cpu_supports checks both.
  static const Simd level = [] {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("fma"))
      return Simd::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Simd::avx2_fma;
    return Simd::portable;
  }();
  return level;
#else
  return Simd::portable;
#endif
}

bool cpu_has_avx512_vnni() {
#ifdef GPT2_X86
  static const bool has = detected_simd() == Simd::avx512 && __builtin_cpu_supports("avx512vnni");
  return has;
#else
  return false;
#endif
}

Simd parse_simd(const char* name, const char* what) {
  if (std::strcmp(name, "portable") == 0) return Simd::portable;
  if (std::strcmp(name, "avx2") == 0) return Simd::avx2_fma;
  if (std::strcmp(name, "avx512") == 0) return Simd::avx512;
  fail(what, ": unknown kernel set '", name, "' (expected portable, avx2 or avx512)");
}

namespace {

Simd at_most_detected(Simd level) {
  return static_cast<int>(level) > static_cast<int>(detected_simd()) ? detected_simd() : level;
}

Simd initial_simd() {
  const char* no_simd = std::getenv("GPT2_NO_SIMD");
  if (no_simd && std::strcmp(no_simd, "") != 0 && std::strcmp(no_simd, "0") != 0) return Simd::portable;
  const char* env = std::getenv("GPT2_SIMD");
  if (env && std::strcmp(env, "") != 0) return at_most_detected(parse_simd(env, "GPT2_SIMD"));
  return detected_simd();
}

std::atomic<Simd>& current_simd() {
  static std::atomic<Simd> level{initial_simd()};
  return level;
}

}  // namespace

Simd active_simd() {
  return current_simd().load(std::memory_order_relaxed);
}

void set_simd(Simd level) {
  current_simd().store(at_most_detected(level), std::memory_order_relaxed);
}

const char* simd_name(Simd level) {
  switch (level) {
    case Simd::avx512:
      return "avx512";
    case Simd::avx2_fma:
      return "avx2+fma";
    case Simd::portable:
      break;
  }
  return "portable";
}

}  // namespace gpt2
