/// @file prepare.h
/// @brief Where `gpt2 prepare` cuts a text into its training and validation parts.
///
/// nanoGPT's Shakespeare recipe keeps the first 90% of the characters for training and the last 10%
/// for validation. We do the same by bytes, then move the cut forward to the start of the next line,
/// so no line is split between the two (and a UTF-8 character never is).
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>

namespace gpt2 {

/// The byte offset at which the validation text begins: about (1 - val_fraction) of the way into
/// `text`, moved forward to the start of the next line. If there is no line break after that point,
/// the cut stays there (moved forward to the next UTF-8 character). Returns text.size() (no
/// validation text) when val_fraction <= 0.
size_t split_point(std::string_view text, double val_fraction);

/// Writes `ids` as chapter 06's token file (write_token_file), converting int to the file's int32_t.
void write_tokens(const std::filesystem::path& path, std::span<const int> ids);

}  // namespace gpt2
