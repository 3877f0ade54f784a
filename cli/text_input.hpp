// Reading texts for the model commands: .txt (one text per line) or .jsonl (a JSON string or
// {"text": ..., "text_pair": ...} per line); "-" is stdin. Errors name the file and line; an
// empty file is an error, an empty line is an empty text.
#pragma once

#include <string>
#include <vector>

namespace xling::cli {

struct TextRecord {
  std::string text, pair;
  bool has_pair = false;
};

std::vector<TextRecord> read_text_records(const std::string& path);

// True when `path` ends with `ext` (e.g. ".npy").
bool has_extension(const std::string& path, const std::string& ext);

}  // namespace xling::cli
