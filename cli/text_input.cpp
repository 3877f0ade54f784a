// Text input for the model commands (see text_input.hpp).
#include "cli/text_input.hpp"

#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "xling/errors.hpp"

namespace xling::cli {

bool has_extension(const std::string& path, const std::string& ext) {
  return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
}

std::vector<TextRecord> read_text_records(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  std::string name = path == "-" ? "<stdin>" : path;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) throw IoError(fmt::format("{}: cannot open for reading", path));
    in = &file;
  }
  const bool jsonl = has_extension(path, ".jsonl") || has_extension(path, ".json");
  std::vector<TextRecord> out;
  std::string line;
  std::size_t n = 0;
  while (std::getline(*in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (auto bad = core::find_invalid_utf8(line); bad != std::string::npos) {
      throw InvalidArgument(fmt::format("{}:{}: invalid UTF-8 at byte {}", name, n, bad));
    }
    TextRecord r;
    if (!jsonl || line.find_first_not_of(" \t") == std::string::npos) {
      r.text = std::move(line);
    } else {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        throw InvalidArgument(fmt::format("{}:{}: not JSON (expected a string or {{\"text\": ...}})", name, n));
      }
      if (j.is_string()) {
        r.text = j.get<std::string>();
      } else if (j.is_object() && j.contains("text") && j["text"].is_string()) {
        r.text = j["text"].get<std::string>();
        if (j.contains("text_pair") && j["text_pair"].is_string()) {
          r.pair = j["text_pair"].get<std::string>();
          r.has_pair = true;
        }
      } else {
        throw InvalidArgument(fmt::format("{}:{}: expected a JSON string or an object with a string 'text'", name, n));
      }
    }
    out.push_back(std::move(r));
  }
  if (in->bad()) throw IoError(fmt::format("{}: read error", name));
  if (out.empty()) throw InvalidArgument(fmt::format("{}: empty input: no texts", name));
  return out;
}

}  // namespace xling::cli
