// JSON parsing hardened for untrusted files (safetensors headers, config.json):
// bounded nesting depth, duplicate keys rejected, errors naming the source; and
// JsonFields, typed access to an object's keys with errors naming key and value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace xling::core {

struct JsonLimits {
  int max_depth = 64;               // deeper nesting is rejected before parsing
  bool reject_duplicate_keys = true;
};

// Parses `text`; `source` (a file path, maybe with a part name) prefixes every error.
// Throws IoError on malformed JSON, too-deep nesting or duplicate keys.
nlohmann::json parse_json(std::string_view text, const std::string& source, JsonLimits limits = {});

// Reads a whole (small) text file, refusing files larger than max_bytes. Throws IoError.
std::string read_text_file(const std::string& path, std::size_t max_bytes = 64u << 20);

// Reads and parses a JSON file (read_text_file + parse_json).
nlohmann::json read_json_file(const std::string& path, JsonLimits limits = {});

// Short printable form of a JSON value for error messages (at most ~80 characters).
std::string json_excerpt(const nlohmann::json& value);

// Writes one JSON record per line (compact, "\n"-terminated) to `path`, atomically
// (core/atomic_file.hpp): on error the previous file is untouched.
void write_jsonl_file(const std::string& path, const std::vector<nlohmann::json>& rows);

// Typed, validated access to the keys of one JSON object. `source` names the file.
// A key holding null counts as absent (HF writes e.g. "classifier_dropout": null).
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string source);

  bool has(const std::string& key) const;
  const nlohmann::json& raw(const std::string& key) const;  // throws if absent

  int64_t integer(const std::string& key) const;
  int64_t integer_or(const std::string& key, int64_t fallback) const;
  std::optional<int64_t> optional_integer(const std::string& key) const;
  // A positive integer (> 0); names key and value when not.
  int64_t positive(const std::string& key) const;
  int64_t positive_or(const std::string& key, int64_t fallback) const;
  double number(const std::string& key) const;
  double number_or(const std::string& key, double fallback) const;
  std::optional<double> optional_number(const std::string& key) const;
  bool boolean_or(const std::string& key, bool fallback) const;
  std::string string(const std::string& key) const;
  std::string string_or(const std::string& key, const std::string& fallback) const;
  // An integer or a list of integers (e.g. eos_token_id); empty when absent.
  std::vector<int64_t> integer_list(const std::string& key) const;
  std::vector<std::string> string_list(const std::string& key) const;

  // Throws InvalidArgument "<source>: key '<key>': <problem>, found <value>".
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& object_;
  std::string source_;
};

}  // namespace xling::core
