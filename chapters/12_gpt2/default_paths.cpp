#include "chapters/12_gpt2/default_paths.h"

#include <cstdlib>
#include <system_error>

#include "chapters/01_tokenizer/vocab_files.h"
#include "chapters/12_gpt2/commands.h"
#include "common/testing.h"

namespace gpt2 {

namespace fs = std::filesystem;

std::vector<fs::path> tokenizer_search_path() {
  std::vector<fs::path> places;
  if (const char* env = std::getenv("GPT2_DATA_DIR"); env && *env) places.push_back(fs::path(env) / "gpt2");
  std::error_code ec;
  const fs::path program = fs::read_symlink("/proc/self/exe", ec);  // (Linux: the running program)
  if (!ec) {
    places.push_back(program.parent_path() / ".." / "share" / "gpt2-cpp-course" / "gpt2");
    places.push_back(program.parent_path() / ".." / ".." / "data" / "gpt2");
  }
  if (!data_dir().empty()) places.push_back(fs::path(data_dir()) / "gpt2");
  for (fs::path& p : places) p = p.lexically_normal();
  return places;
}

std::string default_tokenizer_dir() {
  const std::vector<fs::path> places = tokenizer_search_path();
  for (const fs::path& p : places) {
    if (has_tokenizer_files(p)) return p.string();
  }
  // None holds one: name the first place, so that the error says where it was looked for.
  return places.empty() ? std::string("data/gpt2") : places.front().string();
}

}  // namespace gpt2
