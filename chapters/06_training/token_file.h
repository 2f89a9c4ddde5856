/// @file token_file.h
/// @brief The token file: a tokenized corpus on disk, read by the data loader.
///
/// Layout (little-endian), 24 bytes of header then the ids:
///
/// | bytes | field           | value                                         |
/// |------:|-----------------|-----------------------------------------------|
/// |     8 | magic           | the ASCII characters `GPT2TOKS`               |
/// |     4 | version         | u32, 1                                        |
/// |     4 | bytes per token | u32, 2 (ids < 65536, e.g. GPT-2's 50257) or 4 |
/// |     8 | token count     | u64, N                                        |
/// |  N·b  | ids             | u16 or u32 each                               |
///
/// A corpus of many documents is one stream with GPT-2's `<|endoftext|>` (id 50256) before each
/// document, so the model learns where texts begin and end (join_documents()). The file is
/// written atomically (temporary file, then rename) and reading checks the magic, the version,
/// the width and that the file holds exactly N ids, naming the file in every error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"  // kEndOfTextId, the document separator

namespace gpt2 {

/// Bytes before the first id.
inline constexpr size_t kTokenFileHeaderBytes = 24;

/// Writes ids to `path` (atomically). bytes_per_token 2 or 4; 0 picks 2 when every id fits in 16
/// bits, else 4. Throws gpt2::Error on a negative id or one too large for the width asked for.
void write_token_file(const std::filesystem::path& path, std::span<const int32_t> ids,
                      int bytes_per_token = 0);

/// Reads every id of a token file; throws gpt2::Error naming the file on a bad magic, an unknown
/// version or width, or a file shorter or longer than its header says.
std::vector<int32_t> read_token_file(const std::filesystem::path& path);

/// One stream from several documents: `<|endoftext|>` (eot) before each document's ids.
std::vector<int32_t> join_documents(const std::vector<std::vector<int32_t>>& documents,
                                    int32_t eot = kEndOfTextId);

}  // namespace gpt2
