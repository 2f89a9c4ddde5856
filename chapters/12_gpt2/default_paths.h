/// @file default_paths.h
/// @brief Where the program finds GPT-2's tokenizer when no --tokenizer is given.
///
/// The program is used from a build directory inside the repository (build/bin/gpt2), from a
/// copy of the repository somewhere else, and installed (`cmake --install build --prefix P` puts
/// the program in P/bin and GPT-2's tokenizer in P/share/gpt2-cpp-course/gpt2). A path fixed at
/// build time would only serve the first, so the places are, in order:
///
///  1. `$GPT2_DATA_DIR/gpt2`, when the variable is set;
///  2. next to the program: `<dir of the program>/../share/gpt2-cpp-course/gpt2` (installed) and
///     `<dir of the program>/../../data/gpt2` (a build directory inside the repository);
///  3. the repository the program was built from (`data/gpt2`).
///
/// The first that holds a tokenizer is used.
#pragma once

#include <filesystem>
#include <vector>

namespace gpt2 {

/// The places above, in order (those that need an unknown program path or variable left out).
std::vector<std::filesystem::path> tokenizer_search_path();

}  // namespace gpt2
