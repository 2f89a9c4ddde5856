// Reading and writing GPT-2's two vocabulary files, and building the lookup tables.
//
//   encoder.json  {"!": 0, "\"": 1, ..., "Ġthe": 262, ..., "<|endoftext|>": 50256}
//                 every token, written in the byte-to-unicode alphabet (byte_unicode.h), with its id
//   vocab.bpe     "#version: 0.2" then one merge per line, "Ġ t", "Ġ a", "h e", ... in rank order
//
// Hugging Face calls the same two files vocab.json and merges.txt.
#include <nlohmann/json.hpp>
#include <system_error>

#include "chapters/01_tokenizer/vocab_files.h"

#include "chapters/01_tokenizer/byte_unicode.h"
#include "chapters/01_tokenizer/tokenizer.h"
#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

// The two namings, OpenAI's first (the order only matters in messages).
const TokenizerFiles kNamings[2] = {{"encoder.json", "vocab.bpe"}, {"vocab.json", "merges.txt"}};

bool has_pair(const fs::path& dir, const TokenizerFiles& names) {
  std::error_code ec;
  return fs::is_regular_file(dir / names.vocab, ec) && fs::is_regular_file(dir / names.merges, ec);
}

std::string hex_code_point(uint32_t cp) {
  if (cp == 0xFFFFFFFF) return "invalid UTF-8";
  static const char* digits = "0123456789ABCDEF";
  std::string s = "U+";
  for (int shift = cp > 0xFFFF ? 20 : 12; shift >= 0; shift -= 4) s += digits[(cp >> shift) & 0xF];
  return s;
}

// The 1-based line of byte offset `pos` in `text`.
size_t line_of(const std::string& text, size_t pos) {
  pos = std::min(pos, text.size());
  return 1 +
         static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

}  // namespace

TokenizerFiles find_tokenizer_files(const fs::path& dir) {
  const bool openai = has_pair(dir, kNamings[0]), hugging_face = has_pair(dir, kNamings[1]);
  if (openai && hugging_face) {
    const bool same = read_file(dir / kNamings[0].vocab) == read_file(dir / kNamings[1].vocab) &&
                      read_file(dir / kNamings[0].merges) == read_file(dir / kNamings[1].merges);
    GPT2_CHECK(same, "tokenizer directory '", dir.string(),
               "' holds two different tokenizers: encoder.json + vocab.bpe and vocab.json + merges.txt "
               "differ; delete the pair that is not wanted");
  }
  GPT2_CHECK(openai || hugging_face, "tokenizer directory '", dir.string(),
             "' has neither encoder.json + vocab.bpe (OpenAI's names) nor vocab.json + merges.txt (Hugging "
             "Face's names)");
  const TokenizerFiles& names = openai ? kNamings[0] : kNamings[1];
  return {dir / names.vocab, dir / names.merges};
}

bool has_tokenizer_files(const fs::path& dir) {
  return has_pair(dir, kNamings[0]) || has_pair(dir, kNamings[1]);
}

void remove_other_tokenizer_files(const TokenizerFiles& kept) {
  const fs::path dir = kept.vocab.parent_path();
  for (const TokenizerFiles& names : kNamings) {
    if (dir / names.vocab == kept.vocab) continue;
    for (const fs::path& stale : {dir / names.vocab, dir / names.merges}) {
      std::error_code ec;
      fs::remove(stale, ec);
      GPT2_CHECK(!ec, "cannot remove '", stale.string(), "': ", ec.message());
    }
  }
}

void Tokenizer::build_tables(const std::vector<std::string>& tokens, const std::vector<int>& merged_ids) {
  token_offset_.assign(1, 0);
  token_arena_.clear();
  for (const std::string& tok : tokens) {
    token_arena_ += tok;
    token_offset_.push_back(static_cast<uint32_t>(token_arena_.size()));
  }
  token_arena_.append(16, '\0');  // slack for decode()'s fixed 16-byte copies
  const int V = vocab_size();
  piece_ids_ = StringToIds(static_cast<size_t>(V));
  merge_table_ = MergeTable(merges_.size());
  eot_id_ = -1;
  std::vector<bool> special(static_cast<size_t>(V), false);
  for (const auto& [text, id] : specials_) {
    special[static_cast<size_t>(id)] = true;
    if (text == kEndOfText) eot_id_ = id;
  }
  for (int id = 0; id < V; ++id) {
    std::string_view bytes = token_bytes(id);
    if (special[static_cast<size_t>(id)]) continue;
    if (bytes.size() == 1) byte_id_[static_cast<unsigned char>(bytes[0])] = id;
    if (bytes.size() > StringToIds::kMaxLength) continue;  // (absurdly long: left to BPE)
    max_token_length_ = std::max(max_token_length_, bytes.size());
    if (piece_ids_.find(bytes).empty()) piece_ids_.insert(bytes, std::span<const int>(&id, 1));
  }
  // (The merged ids come from the loader, not from a lookup of the merged bytes: a token longer
  // than piece_ids_'s longest key is not in that table.)
  for (size_t r = 0; r < merges_.size(); ++r) {
    auto [a, b] = merges_[r];
    merge_table_.insert(a, b, {static_cast<int>(r), merged_ids[r]});
  }
}

Tokenizer Tokenizer::from_merges(const std::vector<std::pair<int, int>>& merges,
                                 const std::vector<std::string>& special_tokens) {
  Tokenizer t;
  std::vector<std::string> tokens;
  std::vector<int> merged_ids;
  for (uint8_t b : byte_order()) tokens.emplace_back(1, static_cast<char>(b));
  for (size_t r = 0; r < merges.size(); ++r) {
    auto [a, b] = merges[r];
    const int n = static_cast<int>(tokens.size());
    GPT2_CHECK(a >= 0 && a < n && b >= 0 && b < n, "merge ", r, " joins ids ", a, " and ", b,
               ", but only ids below ", n, " exist at that point");
    merged_ids.push_back(n);
    tokens.push_back(tokens[static_cast<size_t>(a)] + tokens[static_cast<size_t>(b)]);
  }
  t.merges_ = merges;
  for (const std::string& s : special_tokens) {
    t.specials_.emplace_back(s, static_cast<int>(tokens.size()));
    tokens.push_back(s);
  }
  t.build_tables(tokens, merged_ids);
  return t;
}

Tokenizer Tokenizer::load(const std::filesystem::path& dir) {
  const auto [vocab_path, merges_path] = find_tokenizer_files(dir);
  const std::string vname = vocab_path.string(), mname = merges_path.string();

  // ---- encoder.json: token string -> id ----
  const std::string json_text = read_file(vocab_path);
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(vname, " line ", line_of(json_text, e.byte > 0 ? e.byte - 1 : 0), ": not valid JSON (", e.what(),
         ")");
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
    fail(vname, ": not valid JSON (", e.what(), ")");
  }
  GPT2_CHECK(vocab.is_object(), vname, ": expected a JSON object {\"token\": id, ...}");
  const size_t V = vocab.size();
  GPT2_CHECK(V >= 256, vname, ": has ", V,
             " tokens, but a byte-level vocabulary needs at least the 256 bytes");
  std::vector<std::string> tokens(V);
  std::vector<bool> seen(V, false);
  std::string bytes;
  for (const auto& [key, value] : vocab.items()) {
    GPT2_CHECK(value.is_number_integer(), vname, ": the id of token '", key, "' is ", value.dump(),
               ", expected an integer");
    const int64_t id = value.get<int64_t>();
    GPT2_CHECK(id >= 0 && static_cast<size_t>(id) < V, vname, ": token '", key, "' has id ", id,
               ", expected ids 0..", V - 1, " (one per token)");
    GPT2_CHECK(!seen[static_cast<size_t>(id)], vname, ": id ", id, " is used by two tokens (one is '", key,
               "')");
    uint32_t bad = 0;
    GPT2_CHECK(unicode_string_to_bytes(key, bytes, bad), vname, ": token '", key, "' (id ", id, ") contains ",
               hex_code_point(bad), ", which is not in GPT-2's byte-to-unicode alphabet");
    GPT2_CHECK(!bytes.empty(), vname, ": token id ", id, " is the empty string");
    seen[static_cast<size_t>(id)] = true;
    tokens[static_cast<size_t>(id)] = bytes;
  }

  // ---- vocab.bpe: the merges in rank order ----
  Tokenizer t;
  const std::vector<std::string> lines = read_lines(merges_path);
  std::unordered_map<std::string, int> id_of;
  for (size_t i = 0; i < V; ++i) id_of.emplace(tokens[i], static_cast<int>(i));
  auto lookup = [&](const std::string& part, size_t line, const char* what) {
    std::string b;
    uint32_t bad = 0;
    GPT2_CHECK(unicode_string_to_bytes(part, b, bad), mname, " line ", line, ": ", what, " '", part,
               "' contains ", hex_code_point(bad), ", which is not in GPT-2's byte-to-unicode alphabet");
    auto it = id_of.find(b);
    GPT2_CHECK(it != id_of.end(), mname, " line ", line, ": ", what, " '", part, "' is not in ", vname);
    return it->second;
  };
  std::vector<bool> made_by_merge(V, false);
  std::vector<int> merged_ids;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() && i + 1 == lines.size()) break;
    if (i == 0 && line.rfind("#version", 0) == 0) continue;
    const size_t space = line.find(' ');
    GPT2_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                   line.find(' ', space + 1) == std::string::npos,
               mname, " line ", i + 1, ": expected a merge 'A B' (two tokens separated by one space), got '",
               line, "'");
    const std::string left = line.substr(0, space), right = line.substr(space + 1);
    const int a = lookup(left, i + 1, "token"), b = lookup(right, i + 1, "token");
    const int ab = lookup(left + right, i + 1, "merged token");
    GPT2_CHECK(!made_by_merge[static_cast<size_t>(ab)], mname, " line ", i + 1, ": the token '", left + right,
               "' is made by an earlier merge already");
    made_by_merge[static_cast<size_t>(ab)] = true;
    t.merges_.emplace_back(a, b);
    merged_ids.push_back(ab);
  }
  for (uint8_t b : byte_order())
    GPT2_CHECK(id_of.count(std::string(1, static_cast<char>(b))), vname, ": the single-byte token for byte ",
               static_cast<int>(b), " ('", bytes_to_unicode_string(std::string(1, static_cast<char>(b))),
               "') is missing");
  // Special tokens: neither a single byte nor made by a merge (GPT-2: only <|endoftext|>).
  for (size_t id = 0; id < V; ++id) {
    if (tokens[id].size() > 1 && !made_by_merge[id])
      t.specials_.emplace_back(tokens[id], static_cast<int>(id));
  }
  t.build_tables(tokens, merged_ids);
  return t;
}

void Tokenizer::save(const std::filesystem::path& dir) const {
  gpt2::create_directories(dir);
  std::string json = "{";
  for (int id = 0; id < vocab_size(); ++id) {
    if (id > 0) json += ", ";
    json += nlohmann::json(bytes_to_unicode_string(token_bytes(id))).dump();
    json += ": " + std::to_string(id);
  }
  json += "}\n";
  write_file_atomic(dir / "encoder.json", json);
  std::string bpe = "#version: 0.2\n";
  for (auto [a, b] : merges_) {
    bpe += bytes_to_unicode_string(token_bytes(a));
    bpe += ' ';
    bpe += bytes_to_unicode_string(token_bytes(b));
    bpe += '\n';
  }
  write_file_atomic(dir / "vocab.bpe", bpe);
  remove_other_tokenizer_files({dir / "encoder.json", dir / "vocab.bpe"});
}

}  // namespace gpt2
