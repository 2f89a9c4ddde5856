// The backend options (--device, --plain-kernels, GPT2_PLAIN_KERNELS): read by one function and
// the same in every command that runs a model.
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/model_dir.h"
#include "chapters/12_gpt2/tests/cli_harness.h"
#include "common/error.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {

using gpt2_test::contains;

// Sets GPT2_PLAIN_KERNELS for the lifetime of the object, then restores it.
class PlainKernelsVariable {
 public:
  explicit PlainKernelsVariable(const char* value) {
    if (const char* old = std::getenv("GPT2_PLAIN_KERNELS")) saved_ = old, had_ = true;
    if (value) {
      setenv("GPT2_PLAIN_KERNELS", value, 1);
    } else {
      unsetenv("GPT2_PLAIN_KERNELS");
    }
  }
  ~PlainKernelsVariable() {
    if (had_) {
      setenv("GPT2_PLAIN_KERNELS", saved_.c_str(), 1);
    } else {
      unsetenv("GPT2_PLAIN_KERNELS");
    }
  }

 private:
  std::string saved_;
  bool had_ = false;
};

gpt2::BackendOptions parse(std::vector<std::string> args) {
  gpt2::ArgParser p("gpt2 test", "options");
  gpt2::add_backend_options(p);
  std::ostringstream help;
  p.parse(args, help);
  return gpt2::backend_options(p);
}

// The part of a command's --help that explains --plain-kernels and --device (the two options,
// declared one after the other, end with --device's default).
std::string backend_help(const std::string& command) {
  const std::string out = gpt2_test::gpt2_run({command, "--help"}).out;
  const size_t begin = out.find("\n  --plain-kernels");
  const size_t end = out.find("(default: cpu)", begin);
  return begin == std::string::npos || end == std::string::npos ? "" : out.substr(begin, end - begin);
}

}  // namespace

TEST_CASE("backend options: the flags and GPT2_PLAIN_KERNELS, read in one place", "[cli][backend]") {
  PlainKernelsVariable none(nullptr);
  gpt2::BackendOptions o = parse({});
  CHECK(o.device == "cpu");
  CHECK_FALSE(o.plain_kernels);
  CHECK(gpt2::make_backend(o)->name() == "cpu-fast");
  o = parse({"--plain-kernels"});
  CHECK(o.plain_kernels);
  CHECK(gpt2::make_backend(o)->name() == "cpu");
  CHECK_THROWS_WITH(gpt2::make_backend(parse({"--device", "cuda", "--plain-kernels"})),
                    "--plain-kernels: the plain loops run on the CPU only, not with --device cuda");
  CHECK_THROWS_WITH(gpt2::make_backend(parse({"--device", "tpu"})),
                    "--device: expected 'cpu' or 'cuda', got 'tpu'");
  {
    PlainKernelsVariable on("1");
    o = parse({});
    CHECK(o.plain_kernels);
    CHECK(gpt2::make_backend(o)->name() == "cpu");
    CHECK_THROWS_WITH(gpt2::make_backend(parse({"--device", "cuda"})),
                      "GPT2_PLAIN_KERNELS: the plain loops run on the CPU only, not with --device cuda");
  }
  {
    PlainKernelsVariable off("0");
    CHECK_FALSE(parse({}).plain_kernels);
  }
}

TEST_CASE("backend options: train, generate and eval declare and apply them alike", "[cli][backend]") {
  const std::string help = backend_help("generate");
  CHECK(contains(help, "--device NAME"));
  CHECK(contains(help, "cpu, or cuda"));
  CHECK(contains(help, "GPT2_PLAIN_KERNELS=1"));
  CHECK(backend_help("eval") == help);
  CHECK(backend_help("train") == help);
  // The same combination fails the same way in every command that loads a model.
  PlainKernelsVariable on("1");
  const std::string tiny = gpt2::fixture_dir() + "/12_tiny_model";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"generate", "--model", tiny, "--prompt", "x", "--device", "cuda"},
        std::vector<std::string>{"eval", "--model", tiny, "--input",
                                 gpt2::fixture_dir() + "/12_tiny_model/config.json", "--device", "cuda"}}) {
    const gpt2_test::Result r = gpt2_test::gpt2_run(args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "GPT2_PLAIN_KERNELS: the plain loops run on the CPU only"));
  }
}
