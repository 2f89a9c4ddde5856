// ch01_bench: how fast is the tokenizer? Not a test: it prints numbers.
//
//   build/bin/ch01_bench [--corpus FILE] [--threads N] [--no-tiktoken]
//
// Measures, on tiny Shakespeare and on a ~10 MB mixed-script corpus (the machine's licence
// texts and man pages in many languages, decompressed with zcat), or on FILE:
//   - single-thread encode and decode throughput (MB/s of text, tokens/s), best of several runs;
//   - encode_parallel() on N threads (default: all cores), the data-preparation path;
//   - OpenAI's tiktoken (WebAssembly build under node) on the same text, when node and
//     tests/reference/node_modules/tiktoken are present, with a check that its ids equal ours.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "common/error.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "common/timer.h"

namespace fs = std::filesystem;
using gpt2::Tokenizer;

namespace {

// Output of a shell command (empty if it failed).
std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// About `target` bytes of text from files on this machine: the licences, then man pages taken in
// turn from each language's folder so that many scripts are mixed (Latin, Cyrillic, CJK, ...).
std::string build_mixed_corpus(size_t target) {
  std::string text;
  for (const auto& e : fs::directory_iterator("/usr/share/common-licenses")) {
    if (e.is_regular_file()) text += gpt2::read_file(e.path());
  }
  std::vector<std::vector<fs::path>> per_language;
  std::error_code ec;
  for (const auto& lang : fs::directory_iterator("/usr/share/man", ec)) {
    std::vector<fs::path> pages;
    for (const auto& e : fs::recursive_directory_iterator(lang.path(), ec))
      if (e.is_regular_file() && e.path().extension() == ".gz") pages.push_back(e.path());
    std::sort(pages.begin(), pages.end());
    if (!pages.empty()) per_language.push_back(std::move(pages));
  }
  std::sort(per_language.begin(), per_language.end());
  for (size_t i = 0; text.size() < target; ++i) {
    bool any = false;
    std::string batch = "zcat -f";
    for (const auto& pages : per_language) {
      if (i < pages.size()) {
        batch += " '" + pages[i].string() + "'";
        any = true;
      }
    }
    if (!any) break;
    text += run_command(batch + " 2>/dev/null");
  }
  if (text.size() > target) {
    // Cut before a UTF-8 continuation byte never splits a character: node reads the file as
    // UTF-8 and would turn a cut character into U+FFFD, so tiktoken's ids would differ at the end.
    size_t cut = target;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  return text;
}

// CPU time of the calling thread: unlike wall-clock time it does not count the moments the
// thread waited for a core, so single-thread numbers stay meaningful on a busy machine.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Seconds {
  double wall = 1e30, cpu = 1e30;  // the best (smallest) over the runs
};

Seconds best_seconds(int runs, const std::function<void()>& f) {
  Seconds best;
  for (int r = 0; r < runs; ++r) {
    gpt2::Timer t;
    const double cpu0 = thread_cpu_seconds();
    f();
    best.cpu = std::min(best.cpu, thread_cpu_seconds() - cpu0);
    best.wall = std::min(best.wall, t.seconds());
  }
  return best;
}

uint64_t fnv_ids(const std::vector<int>& ids) {
  uint64_t h = 1469598103934665603ull;
  for (int id : ids) h = (h ^ static_cast<uint64_t>(id)) * 1099511628211ull;
  return h;
}

void bench(const Tokenizer& tok, const std::string& name, const fs::path& file, int threads, bool tiktoken) {
  const std::string text = gpt2::read_file(file);
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::vector<int> ids;
  const int runs = text.size() < 4000000 ? 5 : 3;
  const Seconds enc = best_seconds(runs, [&] { ids = tok.encode(text); });
  std::string back;
  const Seconds dec = best_seconds(runs * 2, [&] { back = tok.decode(ids); });
  GPT2_CHECK(back == text, "decode(encode(text)) differs from the text of ", file.string());
  std::vector<int> par;
  const double par_s = best_seconds(runs, [&] { par = gpt2::encode_parallel(tok, text, threads); }).wall;
  GPT2_CHECK(par == ids, "encode_parallel differs from encode on ", file.string());

  const double ntok = static_cast<double>(ids.size());
  std::printf("\n%s: %.2f MB, %zu tokens (%.2f bytes/token)\n", name.c_str(), mb, ids.size(),
              static_cast<double>(text.size()) / ntok);
  std::printf("  %-30s %9.1f MB/s %12.0f tokens/s   (CPU time: %.1f MB/s)\n", "encode, 1 thread",
              mb / enc.wall, ntok / enc.wall, mb / enc.cpu);
  std::printf("  %-30s %9.1f MB/s %12.0f tokens/s   (CPU time: %.1f MB/s)\n", "decode, 1 thread",
              mb / dec.wall, ntok / dec.wall, mb / dec.cpu);
  std::printf("  %-30s %9.1f MB/s %12.0f tokens/s   (%.2fx the 1-thread wall time)\n",
              gpt2::cat("encode_parallel, ", threads, " threads").c_str(), mb / par_s, ntok / par_s,
              enc.wall / par_s);
  if (!tiktoken) return;
  // tiktoken: the same measurements inside node (best of 3 encodes and decodes).
  const fs::path ref = fs::path(GPT2_SOURCE_DIR) / "tests" / "reference";
  const std::string js =
      "const {get_encoding}=require('tiktoken');const fs=require('fs');const e=get_encoding('gpt2');"
      "const t=fs.readFileSync(process.argv[1],'utf8');let ids,be=1e9,bd=1e9;"
      "for(let r=0;r<3;r++){let s=process.hrtime.bigint();ids=e.encode_ordinary(t);"
      "be=Math.min(be,Number(process.hrtime.bigint()-s)/1e9);s=process.hrtime.bigint();e.decode(ids);"
      "bd=Math.min(bd,Number(process.hrtime.bigint()-s)/1e9);}"
      "let h=1469598103934665603n;const m=(1n<<64n)-1n;"
      "for(const id of ids)h=((h^BigInt(id))*1099511628211n)&m;"
      "console.log(be+' '+bd+' '+ids.length+' '+h.toString());";
  const std::string out = run_command("cd '" + ref.string() + "' && node -e \"" + js + "\" '" +
                                      fs::absolute(file).string() + "' 2>/dev/null");
  double tk_enc = 0, tk_dec = 0;
  size_t tk_n = 0;
  unsigned long long tk_hash = 0;
  if (std::sscanf(out.c_str(), "%lf %lf %zu %llu", &tk_enc, &tk_dec, &tk_n, &tk_hash) != 4) {
    std::printf("  tiktoken: not available (node or tests/reference/node_modules missing)\n");
    return;
  }
  const bool same = tk_n == ids.size() && tk_hash == fnv_ids(ids);
  std::printf("  %-30s %9.1f MB/s %12.0f tokens/s\n", "tiktoken (node) encode", mb / tk_enc,
              static_cast<double>(tk_n) / tk_enc);
  std::printf("  %-30s %9.1f MB/s %12.0f tokens/s\n", "tiktoken (node) decode", mb / tk_dec,
              static_cast<double>(tk_n) / tk_dec);
  std::printf("  tiktoken's ids %s ours (%zu tokens)\n", same ? "are identical to" : "DIFFER from", tk_n);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string corpus;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    bool tiktoken = true;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--corpus" && i + 1 < argc) {
        corpus = argv[++i];
      } else if (a == "--threads" && i + 1 < argc) {
        threads = std::stoi(argv[++i]);
      } else if (a == "--no-tiktoken") {
        tiktoken = false;
      } else {
        std::fprintf(stderr, "usage: ch01_bench [--corpus FILE] [--threads N] [--no-tiktoken]\n");
        return 2;
      }
    }
    gpt2::Timer load_timer;
    const Tokenizer tok = Tokenizer::load(gpt2::data_dir() + "/gpt2");
    std::printf("GPT-2 tokenizer loaded in %.3f s; %u hardware threads\n", load_timer.seconds(),
                std::thread::hardware_concurrency());
    if (!corpus.empty()) {
      bench(tok, corpus, corpus, threads, tiktoken);
      return 0;
    }
    bench(tok, "tiny Shakespeare", gpt2::data_dir() + "/tinyshakespeare.txt", threads, tiktoken);
    const fs::path mixed = fs::temp_directory_path() / "gpt2_ch01_mixed_corpus.txt";
    gpt2::write_file_atomic(mixed, build_mixed_corpus(10'000'000));
    bench(tok, "mixed-script corpus (" + mixed.string() + ")", mixed, threads, tiktoken);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch01_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
