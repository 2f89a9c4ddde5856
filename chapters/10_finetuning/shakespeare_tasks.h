/// @file shakespeare_tasks.h
/// @brief The chapter's two fine-tuning datasets, made from tiny Shakespeare alone: *who speaks
/// this line?* (classification) and a small instruction set (SFT).
///
/// tiny Shakespeare is a sequence of speeches, each a speaker's name and a colon on one line,
/// then the speech's lines, then a blank line:
///
///     PETRUCHIO:
///     Good morrow, Kate; for that's your name, I hear.
///
/// **Keeping the test text unseen.** The main job (scripts/main_job.sh) pretrains on the first
/// 90% of the file's bytes and validates on the rest, cut at a line start (`gpt2 prepare`,
/// chapter 12): the held-out part starts at byte 1,003,856. Everything either dataset uses to
/// measure a fine-tuned model lies after that byte, so the main job's model has never seen it.
///
/// **Who speaks this line?** The classes are the K speakers with the most speeches in the
/// held-out part: with K = 4, PETRUCHIO, KATHARINA, TRANIO and BAPTISTA, the four leading
/// speakers of *The Taming of the Shrew*, which the cut falls into (134, 71, 64, 61 of their
/// speeches lie after it). The fifth, PROSPERO (60), would be the one speaker of another play,
/// so part of the task would become "which play is this?"; and the four leave every class at
/// least 16 test speeches. Each speaker's speeches, in file order, are split: the last quarter
/// (n / 4, rounded down) is the test set, the eighth before it (n / 8) the validation set, the
/// rest the training set. For these four, validation and test lie entirely in the held-out part
/// (make_speaker_task checks it); the training set takes the speakers' earlier speeches,
/// partly from the pretraining text. An example is a whole speech (its lines, without the name);
/// its label is the speaker's name.
///
/// **The instruction set.** Three tasks, each answered from a short passage of consecutive
/// speeches (2 or more, one blank line apart, at most 120 characters, so that an example fits the
/// main job's 128-token context even with its Shakespeare-trained BPE, which spends 33 tokens on
/// the template's three markers: '#' never occurs in Shakespeare):
///
///     Who speaks last in this passage?                        -> the last speaker's name
///     Who says "Why, how now, Kate!"?                         -> the name of the one who says it
///     How many lines does KATHARINA speak in this passage?    -> a number, e.g. 3
///
/// The training examples come from passages inside the main job's training part, the held-out
/// examples (for exact-match accuracy) from passages inside its held-out part. The generator is
/// deterministic: gpt2::Rng(seed) draws the passages, the task of example k is k mod 3, and a
/// draw that does not suit its task (or repeats an example) is drawn again.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chapters/10_finetuning/jsonl.h"

namespace gpt2 {

/// One speech of the play text.
struct Speech {
  std::string speaker;  ///< the name before the colon, e.g. "PETRUCHIO", "First Citizen"
  std::string text;     ///< the speech's lines joined by '\n' (no final newline)
  size_t offset = 0;    ///< byte offset of the speaker's line in the file
  size_t end = 0;       ///< byte offset just after the speech's last line
  int lines = 0;        ///< number of lines of text
};

/// The speeches of a text in tiny Shakespeare's format, in order. Blocks that are not a speech
/// (a name without lines, which the file has a few of) are skipped.
std::vector<Speech> parse_speeches(std::string_view text);

/// The byte at which the main job's held-out text begins: `fraction` (0.1) of the bytes from the
/// end, moved forward to the start of the next line, as `gpt2 prepare --val-fraction` cuts.
size_t heldout_start(std::string_view text, double fraction = 0.1);

/// The classification task: its class names (in the order of their ids: sorted) and its splits.
struct SpeakerTask {
  std::vector<std::string> speakers;
  std::vector<LabeledText> train, validation, test;
};

/// Builds *who speaks this line?* with `num_classes` classes by the rule of the file comment.
/// Throws if a validation or test speech would lie before `heldout`.
SpeakerTask make_speaker_task(const std::vector<Speech>& speeches, size_t heldout, int num_classes);

/// The share of `test` that predicting the most frequent label of `train` gets right.
double majority_baseline(const std::vector<LabeledText>& train, const std::vector<LabeledText>& test);

/// The instruction task's examples.
struct InstructionTask {
  std::vector<InstructionExample> train, heldout;
};

/// Builds the instruction set by the rule of the file comment: `num_train` examples from the
/// text before `heldout`, `num_heldout` from the text after it.
InstructionTask make_instruction_task(const std::vector<Speech>& speeches, size_t heldout, int num_train,
                                      int num_heldout, uint64_t seed);

}  // namespace gpt2
