// ch07_bench: generation speed of a GPT-2 124M-sized model (random weights), with and without the
// KV cache, against the memory-bandwidth bound.
//
//   ./build/bin/ch07_bench                      # 2 threads, prompts of 16 and 512 tokens
//   ./build/bin/ch07_bench --threads 1 --new-tokens 16 --prompts 16,128
//   GPT2_PLAIN_KERNELS=1 ./build/bin/ch07_bench --prompts 16 --new-tokens 4   # chapter 04's loops
//
// With the cache, each new token runs every weight matrix once as a matrix-vector product: the
// step reads all P parameters (4 P bytes, about 500 MB for GPT-2 124M) and does only 2 flops per
// parameter read, so its speed is bounded by memory bandwidth: tokens/s <= bandwidth / (4 P).
// Without the cache, each token recomputes the whole context: its cost grows with the prompt.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/07_sampling/generate.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/timer.h"
#ifdef GPT2_CH08_BACKEND
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/parallel.h"
#endif

namespace {

struct Args {
  int threads = 2;
  int new_tokens = 32;
  std::vector<int> prompts = {16, 512};
  int no_cache_steps = 3;
  int repeat = 3;
  bool matvec = true;  // --no-matvec: one-token steps use the backend's products instead of matvec.h  //
                       // report the best of this many runs (other programs on the machine only slow us down)
  double bandwidth_gbs = 15.0;  // the machine's streaming bandwidth with 2 threads (issue 6)
};

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoi(item));
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      GPT2_CHECK(i + 1 < argc, flag, " needs a value");
      return argv[++i];
    };
    if (flag == "--no-matvec") {
      a.matvec = false;
    } else if (flag == "--threads") {
      a.threads = std::stoi(value());
    } else if (flag == "--new-tokens") {
      a.new_tokens = std::stoi(value());
    } else if (flag == "--prompts") {
      a.prompts = parse_list(value());
    } else if (flag == "--no-cache-steps") {
      a.no_cache_steps = std::stoi(value());
    } else if (flag == "--repeat") {
      a.repeat = std::stoi(value());
    } else if (flag == "--bandwidth") {
      a.bandwidth_gbs = std::stod(value());
    } else if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: ch07_bench [--threads N=2] [--new-tokens N=32] [--prompts 16,512] [--no-cache-steps N=3]\n"
          "                  [--repeat N=3] [--bandwidth GB/s=15] [--no-matvec]\n"
          "Reports the best of --repeat runs of each measurement.\n"
          "Generation tokens/s of a GPT-2 124M-sized model (random weights) with and without the KV cache.\n"
          "GPT2_PLAIN_KERNELS=1 uses chapter 04's plain loops instead of chapter 08's kernels.\n");
      std::exit(0);
    } else {
      gpt2::fail("unknown flag '", flag, "' (try --help)");
    }
  }
  GPT2_CHECK(a.threads > 0 && a.new_tokens > 1 && a.no_cache_steps > 0 && a.repeat > 0,
             "counts must be positive");
  return a;
}

// Streaming read bandwidth over `data` with the current threads: the best of three sums, in GB/s.
// Blocks of 1024 floats, each summed into 8 interleaved partial sums (SIMD-friendly).
double measure_bandwidth(const float* data, size_t n) {
  const long long blocks = static_cast<long long>(n / 1024);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    gpt2::Timer timer;
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (long long blk = 0; blk < blocks; ++blk) {
      const float* p = data + blk * 1024;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int i = 0; i < 1024; i += 8) {
        for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
      }
      total += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
    const double seconds = timer.seconds();
    if (total == 12345.678) std::printf(" ");  // use the sum, so the loop is not optimised away
    best = std::max(best, static_cast<double>(blocks) * 1024 * sizeof(float) / seconds / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse(argc, argv);
#ifdef GPT2_CH08_BACKEND
    gpt2::ScopedThreads threads(args.threads);
    std::unique_ptr<gpt2::Backend> backend = gpt2::make_cpu_backend();
#else
    std::unique_ptr<gpt2::Backend> backend = std::make_unique<gpt2::CpuBackend>();
#endif
    const gpt2::GPT2Config config = gpt2::GPT2Config::from_name("gpt2");
    gpt2::GPT2 model(config, *backend);
    model.init_random(1337);
    const double weight_bytes = static_cast<double>(model.num_parameters()) * sizeof(float);
    const double bound = args.bandwidth_gbs * 1e9 / weight_bytes;
    const double measured_gbs = measure_bandwidth(model.params().data(), model.params().numel());
    std::printf("GPT-2 124M-sized model (%s), %lld parameters = %.0f MB of float32 weights per token\n",
                gpt2::to_string(config).c_str(), static_cast<long long>(model.num_parameters()),
                weight_bytes / 1e6);
    std::printf(
        "backend %s, one-token products: %s, %d thread(s); bandwidth bound at %.1f GB/s: %.1f tokens/s "
        "(a read of the weights here just now: %.1f GB/s)\n\n",
        backend->name().c_str(), args.matvec ? "matvec.h" : "the backend's", args.threads, args.bandwidth_gbs,
        bound, measured_gbs);
    const double measured_bound = measured_gbs * 1e9 / weight_bytes;
    std::printf(
        "| prompt | KV cache | prefill s | tokens/s | ms/token | of the %.0f GB/s bound | of the measured "
        "bound |\n",
        args.bandwidth_gbs);
    std::printf(
        "|-------:|:---------|----------:|---------:|---------:|------------------:|---------------------:|"
        "\n");

    gpt2::Rng rng(7);
    gpt2::CachedGPT2 cached(model);
    cached.set_matvec(args.matvec);
    for (int prompt_len : args.prompts) {
      GPT2_CHECK(prompt_len > 0 && prompt_len + args.new_tokens <= config.n_positions, "a prompt of ",
                 prompt_len, " tokens plus ", args.new_tokens, " new ones does not fit the context of ",
                 config.n_positions);
      std::vector<int> prompt(prompt_len);
      for (int& t : prompt) t = static_cast<int>(rng.below(config.vocab_size));

      // With the cache: prefill once, then one position per token.
      const gpt2::GenerateOptions options{
          .max_new_tokens = args.new_tokens, .greedy = true, .stop_at_eot = false};
      double prefill = 1e30, with_cache = 0;
      for (int rep = 0; rep < args.repeat; ++rep) {
        const gpt2::Generation g = gpt2::generate(cached, prompt, options);
        prefill = std::min(prefill, g.prefill_seconds);
        with_cache = std::max(with_cache, g.decode_tokens_per_second());
      }
      std::printf("| %6d | yes      | %9.3f | %8.2f | %8.1f | %16.0f%% | %19.0f%% |\n", prompt_len, prefill,
                  with_cache, 1e3 / with_cache, 100.0 * with_cache / bound,
                  100.0 * with_cache / measured_bound);
      std::fflush(stdout);

      // Without: every token runs the whole context (prompt + tokens so far) through the model.
      double best_step = 1e30;
      for (int rep = 0; rep < args.repeat; ++rep) {
        std::vector<int> context = prompt;
        gpt2::Timer timer;
        for (int step = 0; step < args.no_cache_steps; ++step) {
          cached.reset();
          auto logits = cached.forward(context);
          context.push_back(gpt2::argmax(logits));
        }
        best_step = std::min(best_step, timer.seconds() / args.no_cache_steps);
      }
      const double without_cache = 1.0 / best_step;
      std::printf("| %6d | no       | %9s | %8.2f | %8.1f | %16.0f%% | %19.0f%% |\n", prompt_len, "-",
                  without_cache, 1e3 / without_cache, 100.0 * without_cache / bound,
                  100.0 * without_cache / measured_bound);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch07_bench: %s\n", e.what());
    return 1;
  }
}
