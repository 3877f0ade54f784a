#include "index/corpus_reader.hpp"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/utf8.hpp"
#include "xling/errors.hpp"

namespace xling::index {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

CorpusReader::CorpusReader(std::string path, CorpusFormat format) : path_(std::move(path)), format_(std::move(format)) {
  if (std::filesystem::is_directory(path_)) throw IoError(fmt::format("{}: is a folder, expected a corpus file", path_));
  in_.open(path_, std::ios::binary);
  if (!in_) throw IoError(fmt::format("{}: cannot open for reading", path_));
  std::error_code ec;
  size_ = std::filesystem::file_size(path_, ec);
  if (ec) size_ = 0;
  jsonl_ = ends_with(path_, ".jsonl") || ends_with(path_, ".json");
}

bool CorpusReader::next(Document& doc) {
  std::string line;
  if (!std::getline(in_, line)) {
    if (in_.bad()) throw IoError(fmt::format("{}: read error", path_));
    return false;
  }
  doc = Document();
  doc.offset = static_cast<int64_t>(offset_);
  offset_ += line.size() + (in_.eof() ? 0 : 1);
  ++line_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (auto bad = core::find_invalid_utf8(line); bad != std::string::npos) {
    throw InvalidArgument(fmt::format("{}:{}: invalid UTF-8 at byte {}", path_, line_, bad));
  }
  if (!jsonl_ || line.find_first_not_of(" \t") == std::string::npos) {
    doc.id = std::to_string(line_);
    doc.text = jsonl_ ? std::string() : std::move(line);
    return true;
  }
  nlohmann::json j;
  try {
    j = core::parse_json(line, fmt::format("{}:{}", path_, line_));
  } catch (const IoError& e) {
    throw InvalidArgument(e.what());
  }
  if (!j.is_object()) throw InvalidArgument(fmt::format("{}:{}: expected a JSON object per line", path_, line_));
  std::string id_key = format_.id_field;
  if (!j.contains(id_key) && id_key == "id" && j.contains("_id")) id_key = "_id";
  if (!j.contains(id_key)) {
    throw InvalidArgument(fmt::format("{}:{}: no id field '{}' (choose one with --id-field)", path_, line_, format_.id_field));
  }
  const auto& id = j[id_key];
  if (id.is_string()) doc.id = id.get<std::string>();
  else if (id.is_number_integer()) doc.id = id.dump();
  else throw InvalidArgument(fmt::format("{}:{}: id '{}' must be a string or an integer, got {}", path_, line_, id_key, core::json_excerpt(id)));
  if (!j.contains(format_.text_field) || !j[format_.text_field].is_string()) {
    throw InvalidArgument(fmt::format("{}:{}: no string field '{}' (choose one with --text-field)", path_, line_, format_.text_field));
  }
  doc.text = j[format_.text_field].get<std::string>();
  if (!format_.title_field.empty() && j.contains(format_.title_field)) {
    const auto& t = j[format_.title_field];
    if (!t.is_string()) throw InvalidArgument(fmt::format("{}:{}: title field '{}' is not a string", path_, line_, format_.title_field));
    auto title = t.get<std::string>();
    if (!title.empty()) doc.text = title + " " + doc.text;
  }
  j.erase(id_key);
  j.erase(format_.text_field);
  if (!j.empty()) doc.fields = j.dump();
  return true;
}

}  // namespace xling::index
