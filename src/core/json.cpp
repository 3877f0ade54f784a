// Hardened JSON parsing and typed field access (see json.hpp).
#include "core/json.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <sys/stat.h>

#include <fmt/format.h>

#include "core/atomic_file.hpp"
#include "xling/errors.hpp"

namespace xling::core {
namespace {

// Nesting depth of JSON text, ignoring brackets inside strings. Runs before the parser so
// that hostile input ("[[[[...") never reaches recursive code.
int max_nesting(std::string_view text, int stop_after) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > stop_after) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& source, JsonLimits limits) {
  if (max_nesting(text, limits.max_depth) > limits.max_depth) {
    throw IoError(fmt::format("{}: JSON nested deeper than {} levels", source, limits.max_depth));
  }
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string duplicate;
  auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (!limits.reject_duplicate_keys) return true;
    if (event == E::object_start) {
      keys.emplace_back();
    } else if (event == E::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == E::key && !keys.empty()) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  nlohmann::json result;
  try {
    result = nlohmann::json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                                   /*ignore_comments=*/false);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] "; keep the human part.
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw IoError(fmt::format("{}: invalid JSON: {}", source, what));
  }
  if (!duplicate.empty()) {
    throw IoError(fmt::format("{}: duplicate JSON key '{}'", source, duplicate));
  }
  return result;
}

std::string read_text_file(const std::string& path, std::size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw IoError(fmt::format("{}: file not found", path));
  }
  if (!S_ISREG(st.st_mode)) throw IoError(fmt::format("{}: not a regular file", path));
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    throw IoError(fmt::format("{}: {} bytes is larger than the limit of {} bytes", path,
                              static_cast<long long>(st.st_size), max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open for reading", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("{}: read error", path));
  return buf.str();
}

nlohmann::json read_json_file(const std::string& path, JsonLimits limits) {
  return parse_json(read_text_file(path), path, limits);
}

std::string json_excerpt(const nlohmann::json& value) {
  std::string s = value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

void write_jsonl_file(const std::string& path, const std::vector<nlohmann::json>& rows) {
  std::string text;
  for (const auto& r : rows) text += r.dump() + "\n";
  write_file_atomic(path, text);
}

JsonFields::JsonFields(const nlohmann::json& object, std::string source)
    : object_(object), source_(std::move(source)) {
  if (!object_.is_object()) {
    throw InvalidArgument(fmt::format("{}: expected a JSON object, found {}", source_, json_excerpt(object_)));
  }
}

bool JsonFields::has(const std::string& key) const {
  auto it = object_.find(key);
  return it != object_.end() && !it->is_null();
}

const nlohmann::json& JsonFields::raw(const std::string& key) const {
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) {
    throw InvalidArgument(fmt::format("{}: required key '{}' is missing", source_, key));
  }
  return *it;
}

void JsonFields::fail(const std::string& key, const std::string& problem) const {
  auto it = object_.find(key);
  std::string found = it == object_.end() ? "nothing" : json_excerpt(*it);
  throw InvalidArgument(fmt::format("{}: key '{}': {}, found {}", source_, key, problem, found));
}

int64_t JsonFields::integer(const std::string& key) const {
  const auto& v = raw(key);
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(key, "integer out of range");
    }
    return v.get<int64_t>();
  }
  // 12.0 is accepted as 12 (some tools write integral floats); 12.5 is not.
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
  }
  fail(key, "expected an integer");
}

int64_t JsonFields::integer_or(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

std::optional<int64_t> JsonFields::optional_integer(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return integer(key);
}

int64_t JsonFields::positive(const std::string& key) const {
  int64_t v = integer(key);
  if (v <= 0) fail(key, "expected a positive integer");
  return v;
}

int64_t JsonFields::positive_or(const std::string& key, int64_t fallback) const {
  return has(key) ? positive(key) : fallback;
}

double JsonFields::number(const std::string& key) const {
  const auto& v = raw(key);
  if (!v.is_number()) fail(key, "expected a number");
  return v.get<double>();
}

double JsonFields::number_or(const std::string& key, double fallback) const {
  return has(key) ? number(key) : fallback;
}

std::optional<double> JsonFields::optional_number(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return number(key);
}

bool JsonFields::boolean_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = raw(key);
  if (!v.is_boolean()) fail(key, "expected true or false");
  return v.get<bool>();
}

std::string JsonFields::string(const std::string& key) const {
  const auto& v = raw(key);
  if (!v.is_string()) fail(key, "expected a string");
  return v.get<std::string>();
}

std::string JsonFields::string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? string(key) : fallback;
}

std::vector<int64_t> JsonFields::integer_list(const std::string& key) const {
  std::vector<int64_t> out;
  if (!has(key)) return out;
  const auto& v = raw(key);
  if (v.is_array()) {
    for (const auto& item : v) {
      if (!item.is_number_integer()) fail(key, "expected an integer or a list of integers");
      out.push_back(item.get<int64_t>());
    }
  } else {
    out.push_back(integer(key));
  }
  return out;
}

std::vector<std::string> JsonFields::string_list(const std::string& key) const {
  std::vector<std::string> out;
  if (!has(key)) return out;
  const auto& v = raw(key);
  if (!v.is_array()) fail(key, "expected a list of strings");
  for (const auto& item : v) {
    if (!item.is_string()) fail(key, "expected a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace xling::core
