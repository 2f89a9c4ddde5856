// ch10_make_datasets: writes the chapter's two fine-tuning datasets from tiny Shakespeare alone,
// by the rules of shakespeare_tasks.h.
//
//   build/bin/ch10_make_datasets data/tinyshakespeare.txt data/finetune
//
// writes speakers_train.jsonl, speakers_validation.jsonl, speakers_test.jsonl ({"text", "label"})
// and sft_train.jsonl, sft_heldout.jsonl ({"instruction", "input", "output"}), and prints their
// sizes and the majority-class baseline. The files in data/finetune are this program's output
// (the chapter's tests regenerate them and compare).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "chapters/10_finetuning/jsonl.h"
#include "chapters/10_finetuning/shakespeare_tasks.h"
#include "common/file_io.h"

namespace {

template <typename Example>
void write_jsonl(const std::filesystem::path& path, const std::vector<Example>& examples) {
  std::string text;
  for (const Example& e : examples) text += gpt2::to_jsonl_line(e) + "\n";
  gpt2::write_file_atomic(path, text);
  std::printf("  %-28s %5zu examples, %7zu bytes\n", path.filename().string().c_str(), examples.size(),
              text.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s TINYSHAKESPEARE_TXT OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::string text = gpt2::read_file(argv[1]);
    const std::filesystem::path out = argv[2];
    gpt2::create_directories(out);
    const std::vector<gpt2::Speech> speeches = gpt2::parse_speeches(text);
    const size_t heldout = gpt2::heldout_start(text);
    std::printf("%zu speeches; the main job's held-out text starts at byte %zu of %zu\n", speeches.size(),
                heldout, text.size());

    const gpt2::SpeakerTask speakers = gpt2::make_speaker_task(speeches, heldout, 4);
    std::printf("who speaks this line? classes:");
    for (const std::string& s : speakers.speakers) std::printf(" %s", s.c_str());
    std::printf("\n");
    write_jsonl(out / "speakers_train.jsonl", speakers.train);
    write_jsonl(out / "speakers_validation.jsonl", speakers.validation);
    write_jsonl(out / "speakers_test.jsonl", speakers.test);
    std::printf("  majority-class baseline: %.1f%% of the validation set, %.1f%% of the test set\n",
                100 * gpt2::majority_baseline(speakers.train, speakers.validation),
                100 * gpt2::majority_baseline(speakers.train, speakers.test));

    const gpt2::InstructionTask sft = gpt2::make_instruction_task(speeches, heldout, 1500, 300, 1337);
    std::printf("instructions:\n");
    write_jsonl(out / "sft_train.jsonl", sft.train);
    write_jsonl(out / "sft_heldout.jsonl", sft.heldout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
