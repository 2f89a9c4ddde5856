/// @file simd.h
/// @brief Which vector instructions the fast kernels use, chosen when the program runs.
///
/// The binary is compiled for the baseline of its architecture (any x86-64, any ARMv8), so it runs
/// everywhere. The hot loops exist twice: a portable version, and an AVX2 + FMA version compiled
/// with `__attribute__((target("avx2,fma")))`. At run time `__builtin_cpu_supports("avx2")` decides
/// which one is called. (Compiling a whole file with `-mavx2` instead would let the linker pick
/// AVX2 copies of inline library functions for everyone, and the program would crash with "illegal
/// instruction" on an older CPU.)
#pragma once

namespace gpt2 {

/// The instruction sets a fast kernel can use.
enum class Simd {
  portable,  ///< plain C++ the compiler vectorises for the baseline (SSE2 on x86-64, NEON on ARM)
  avx2_fma,  ///< 256-bit AVX2 vectors with fused multiply-add (x86-64 since about 2013)
};

/// The best level this CPU supports.
Simd detected_simd();

/// The level the kernels use now: detected_simd(), or portable when the environment variable
/// GPT2_NO_SIMD=1 is set or set_simd() chose it.
Simd active_simd();

/// Forces a level (tests and the benchmark use it to time and check both). Asking for more than
/// the CPU has selects detected_simd() instead.
void set_simd(Simd level);

/// "avx2+fma" or "portable".
const char* simd_name(Simd level);

}  // namespace gpt2
