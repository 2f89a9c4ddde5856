#include "chapters/08_cpu_parallel/simd.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace gpt2 {

Simd detected_simd() {
#if defined(__x86_64__) || defined(__i386__)
  static const Simd level =
      (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? Simd::avx2_fma : Simd::portable;
  return level;
#else
  return Simd::portable;
#endif
}

namespace {

Simd initial_simd() {
  const char* env = std::getenv("GPT2_NO_SIMD");
  if (env && std::strcmp(env, "") != 0 && std::strcmp(env, "0") != 0) return Simd::portable;
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
  if (level == Simd::avx2_fma && detected_simd() != Simd::avx2_fma) level = detected_simd();
  current_simd().store(level, std::memory_order_relaxed);
}

const char* simd_name(Simd level) {
  return level == Simd::avx2_fma ? "avx2+fma" : "portable";
}

}  // namespace gpt2
