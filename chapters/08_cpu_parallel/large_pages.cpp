// allocate_large: see large_pages.h for why.
#include "chapters/08_cpu_parallel/large_pages.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace gpt2 {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;  // x86-64's 2 MB page
}

void* allocate_large(size_t bytes) {
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  // aligned_alloc wants the size to be a multiple of the alignment.
  const size_t rounded = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  GPT2_CHECK(p != nullptr, "out of memory allocating ", bytes, " bytes");
#ifdef __linux__
  // Before the first touch: the memset below then faults the range in as 2 MB pages. A kernel that
  // refuses (no transparent huge pages) leaves 4 KB pages, which is fine: the advice is ignored.
  if (align == kHugePage) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
  std::memset(p, 0, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);  // the rest is never read
  return p;
}

void free_large(void* p) {
  std::free(p);
}

size_t huge_page_bytes() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    size_t kb = 0;
    if (fields >> key >> kb && key == "AnonHugePages:") return kb * 1024;
  }
  return 0;
}

}  // namespace gpt2
