// Request parsing and response writers (see requests.hpp).
#include "serve/requests.hpp"

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/utf8.hpp"
#include "serve/base64.hpp"

namespace xling::serve {
namespace {

using nlohmann::json;

// ------------------------------------------------------------------ error helpers

// Where a value sits in the request: a top-level key, then up to two list indices.
struct Path {
  const char* field;
  std::size_t index[2] = {0, 0};
  int depth = 0;

  Path at(std::size_t i) const {  // requests nest at most two lists deep
    Path p = *this;
    if (p.depth < 2) p.index[p.depth++] = i;
    return p;
  }
  std::string str() const {
    std::string s = field;
    for (int d = 0; d < depth; ++d) s += fmt::format("[{}]", index[d]);
    return s;
  }
};

[[noreturn]] void invalid(const Path& path, std::string_view problem) {
  throw RequestError(400, kValidation, fmt::format("field '{}': {}", path.str(), problem));
}

[[noreturn]] void invalid(const char* field, std::string_view problem) { invalid(Path{field}, problem); }

// A string cut to at most `max` bytes at a UTF-8 boundary, quoted and escaped.
std::string quoted_excerpt(const std::string& s, std::size_t max = 40) {
  std::string cut = s;
  if (cut.size() > max) {
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(cut[n]) & 0xC0) == 0x80) --n;
    cut = cut.substr(0, n) + "...";
  }
  return json(cut).dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

// "the string \"yes\"", "3", "an array of 2 items", ... for "expected X, found Y".
std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "the number " + v.dump();
    case json::value_t::string: return "the string " + quoted_excerpt(v.get_ref<const std::string&>());
    case json::value_t::binary: return "a string with invalid UTF-8";
    case json::value_t::array: return fmt::format("an array of {} items", v.size());
    case json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

// A string holding invalid UTF-8 reaches the typed readers as a JSON binary value (which JSON
// text can never produce): 8 bytes of body offset (little-endian) and the offending byte.
json utf8_marker(std::size_t offset, unsigned char byte) {
  json::binary_t::container_type bytes(9);
  for (int b = 0; b < 8; ++b) bytes[b] = static_cast<std::uint8_t>((static_cast<std::uint64_t>(offset) >> (8 * b)) & 0xFF);
  bytes[8] = byte;
  return json::binary(std::move(bytes));
}

[[noreturn]] void invalid_utf8(const Path& path, const json& marker) {
  const auto& bytes = marker.get_binary();
  std::uint64_t offset = 0;
  for (int b = 0; b < 8; ++b) offset |= static_cast<std::uint64_t>(bytes[b]) << (8 * b);
  invalid(path, fmt::format("invalid UTF-8 (byte 0x{:02X} at offset {} of the request body)", bytes[8], offset));
}

void check_count(const char* field, std::size_t n, const Limits& limits) {
  if (n > limits.max_client_batch_size) {
    throw RequestError(413, kPayloadTooLarge,
                       fmt::format("field '{}': {} inputs exceed the limit of {} inputs per request "
                                   "(max_client_batch_size)",
                                   field, n, limits.max_client_batch_size));
  }
}

// ------------------------------------------------------------------ body -> JSON

// Refuses nesting deeper than max_depth with a byte scan (brackets inside strings do not
// count), so that "[[[[..." never reaches nlohmann's recursive parser.
void check_depth(std::string_view body, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        throw RequestError(400, kValidation,
                           fmt::format("JSON nested deeper than {} levels (at offset {})", max_depth, i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

struct Taint {
  std::size_t ordinal;  // which string token (keys included), in text order
  std::size_t offset;   // body offset of its first invalid byte
  unsigned char byte;
};

// Replaces every invalid UTF-8 byte inside a string token with '?' (one byte for one, so
// offsets and JSON structure are unchanged) and lists the tokens that had one.
std::vector<Taint> sanitize_strings(std::string& s) {
  std::vector<Taint> taints;
  std::size_t ordinal = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '"') continue;
    std::size_t start = i + 1, end = start;
    for (bool escaped = false; end < s.size(); ++end) {
      char c = s[end];
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') break;
    }
    bool tainted = false;
    for (std::size_t k = start; k < end;) {
      std::size_t bad = core::find_invalid_utf8(std::string_view(s).substr(k, end - k));
      if (bad == std::string_view::npos) break;
      if (!tainted) taints.push_back({ordinal, k + bad, static_cast<unsigned char>(s[k + bad])});
      tainted = true;
      s[k + bad] = '?';
      k += bad + 1;
    }
    ++ordinal;
    i = end;
  }
  return taints;
}

std::string parse_error_text(const char* what) {
  // nlohmann's "[json.exception.parse_error.101] parse error at ...": keep the human part.
  std::string_view w = what;
  auto pos = w.find("] ");
  return std::string(pos == std::string_view::npos ? w : w.substr(pos + 2));
}

json parse_body(std::string_view body, const Limits& limits) {
  if (body.size() > limits.max_request_bytes) {
    throw RequestError(413, kPayloadTooLarge,
                       fmt::format("request body is {} bytes, larger than the limit of {} bytes", body.size(),
                                   limits.max_request_bytes));
  }
  check_depth(body, limits.max_depth);
  try {
    if (core::find_invalid_utf8(body) == std::string_view::npos) return json::parse(body.begin(), body.end());
    // nlohmann refuses invalid UTF-8 with a bare parse error; to name the field instead, the
    // bad bytes are replaced and each affected string value becomes a marker (see utf8_marker).
    // Keys and string values arrive at the callback in text order, as the scan counted them.
    std::string clean(body);
    std::vector<Taint> taints = sanitize_strings(clean);
    std::size_t ordinal = 0, next = 0;
    auto mark = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
      bool is_key = event == json::parse_event_t::key;
      if (!is_key && !(event == json::parse_event_t::value && parsed.is_string())) return true;
      if (next < taints.size() && taints[next].ordinal == ordinal) {
        // A tainted key is an unknown key (known keys are ASCII): left as is, ignored.
        if (!is_key) parsed = utf8_marker(taints[next].offset, taints[next].byte);
        ++next;
      }
      ++ordinal;
      return true;
    };
    return json::parse(clean.begin(), clean.end(), mark);
  } catch (const json::parse_error& e) {
    throw RequestError(400, kValidation, fmt::format("invalid JSON (byte {}): {}", e.byte, parse_error_text(e.what())));
  } catch (const json::exception& e) {
    throw RequestError(400, kValidation, fmt::format("invalid JSON: {}", parse_error_text(e.what())));
  }
}

// ------------------------------------------------------------------ typed readers

std::string take_string(json& v, const Path& path) {
  if (v.is_binary()) invalid_utf8(path, v);
  if (!v.is_string()) invalid(path, "expected a string, found " + describe(v));
  return std::move(v.get_ref<std::string&>());
}

int token_id(const json& v, const Path& path) {
  if (!v.is_number_integer()) invalid(path, "expected a token id (an integer), found " + describe(v));
  // nlohmann stores non-negative integers as unsigned: a signed value is negative.
  if (!v.is_number_unsigned()) invalid(path, fmt::format("token id {} is negative", v.get<std::int64_t>()));
  auto id = v.get<std::uint64_t>();
  if (id > static_cast<std::uint64_t>(INT_MAX)) {
    invalid(path, fmt::format("token id {} is out of range [0, {}]", id, INT_MAX));
  }
  return static_cast<int>(id);
}

TokenIds token_ids(const json& v, const Path& path) {
  if (!v.is_array()) invalid(path, "expected a list of token ids, found " + describe(v));
  TokenIds ids;
  ids.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) ids.push_back(token_id(v[i], path.at(i)));
  return ids;
}

[[noreturn]] void empty_list(const char* field) { invalid(field, "empty list (at least one input is required)"); }

// Top-level keys of the request object.
class Fields {
 public:
  explicit Fields(json& root) : root_(root) {
    if (!root_.is_object()) {
      throw RequestError(400, kValidation, "the request body must be a JSON object, found " + describe(root_));
    }
  }

  // nullptr when absent or null.
  json* find(const char* key) {
    auto it = root_.find(key);
    return it == root_.end() || it->is_null() ? nullptr : &*it;
  }

  json& required(const char* key) {
    if (json* v = find(key)) return *v;
    throw RequestError(400, kValidation, fmt::format("missing required field '{}'", key));
  }

  std::optional<bool> optional_boolean(const char* key) {
    json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) invalid(key, "expected a boolean, found " + describe(*v));
    return v->get<bool>();
  }

  bool boolean(const char* key, bool fallback) { return optional_boolean(key).value_or(fallback); }

  std::optional<std::string> optional_string(const char* key) {
    json* v = find(key);
    if (!v) return std::nullopt;
    return take_string(*v, Path{key});
  }

  std::string required_nonempty_string(const char* key) {
    std::string s = take_string(required(key), Path{key});
    if (s.empty()) invalid(key, "must not be empty");
    return s;
  }

  std::optional<int> optional_int(const char* key, int min, int max) {
    json* v = find(key);
    if (!v) return std::nullopt;
    auto range = [&] { return max == INT_MAX ? fmt::format("an integer >= {}", min) : fmt::format("an integer in [{}, {}]", min, max); };
    if (!v->is_number_integer()) invalid(key, fmt::format("expected {}, found {}", range(), describe(*v)));
    // Unsigned values above INT64_MAX would wrap in get<int64_t>(): compare them apart.
    bool too_big = v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max);
    if (too_big || v->get<std::int64_t>() < min || v->get<std::int64_t>() > max) {
      invalid(key, fmt::format("expected {}, found {}", range(), v->dump()));
    }
    return static_cast<int>(v->get<std::int64_t>());
  }

  std::optional<double> optional_number(const char* key, double min, double max, bool min_open = false) {
    json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) invalid(key, fmt::format("expected a number in {}{}, {}], found {}", min_open ? "(" : "[", min, max, describe(*v)));
    const double x = v->get<double>();
    if (!(min_open ? x > min : x >= min) || !(x <= max)) {
      invalid(key, fmt::format("expected a number in {}{}, {}], found {}", min_open ? "(" : "[", min, max, v->dump()));
    }
    return x;
  }

  TruncationDirection truncation_direction() {
    json* v = find("truncation_direction");
    if (!v) return TruncationDirection::kRight;
    if (v->is_string()) {
      const auto& s = v->get_ref<const std::string&>();
      if (s == "right" || s == "Right") return TruncationDirection::kRight;
      if (s == "left" || s == "Left") return TruncationDirection::kLeft;
    }
    invalid("truncation_direction", "expected \"right\" or \"left\", found " + describe(*v));
  }

 private:
  json& root_;
};

// A string (single_input) or a non-empty list of strings.
template <class Request>
void read_texts(json& v, const char* field, const Limits& limits, std::vector<std::string>& out, Request& request) {
  if (v.is_string() || v.is_binary()) {
    out.push_back(take_string(v, Path{field}));
    request.single_input = true;
    return;
  }
  if (!v.is_array()) invalid(field, "expected a string or a list of strings, found " + describe(v));
  if (v.empty()) empty_list(field);
  check_count(field, v.size(), limits);
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(take_string(v[i], Path{field}.at(i)));
}

// TEI's Input: a string, one token-id list, or a list of strings and token-id lists.
template <class Request>
void read_embed_inputs(json& v, const char* field, const Limits& limits, std::vector<EmbedInput>& out,
                       Request& request) {
  if (v.is_string() || v.is_binary()) {
    out.emplace_back(take_string(v, Path{field}));
    request.single_input = true;
    return;
  }
  if (!v.is_array()) {
    invalid(field, "expected a string, a list of strings, a list of token ids or a list of token-id lists, found " +
                       describe(v));
  }
  if (v.empty()) empty_list(field);
  if (v[0].is_number()) {  // one sequence of token ids
    out.emplace_back(token_ids(v, Path{field}));
    request.single_input = true;
    return;
  }
  check_count(field, v.size(), limits);
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    json& item = v[i];
    Path path = Path{field}.at(i);
    if (item.is_string() || item.is_binary()) {
      out.emplace_back(take_string(item, path));
    } else if (item.is_array()) {
      if (item.empty()) invalid(path, "empty list of token ids");
      out.emplace_back(token_ids(item, path));
    } else {
      invalid(path, "expected a string or a list of token ids, found " + describe(item));
    }
  }
}

AggregationStrategy aggregation_strategy(Fields& fields) {
  json* v = fields.find("aggregation_strategy");
  if (!v) return AggregationStrategy::kSimple;
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (s == "none") return AggregationStrategy::kNone;
    if (s == "simple") return AggregationStrategy::kSimple;
    if (s == "first") return AggregationStrategy::kFirst;
    if (s == "average") return AggregationStrategy::kAverage;
    if (s == "max") return AggregationStrategy::kMax;
  }
  invalid("aggregation_strategy",
          "expected \"none\", \"simple\", \"first\", \"average\" or \"max\", found " + describe(*v));
}

// ------------------------------------------------------------------ response helpers

void append_vector(std::string& out, const float* values, std::size_t n, std::size_t row) {
  out.push_back('[');
  for (std::size_t d = 0; d < n; ++d) {
    if (!std::isfinite(values[d])) {
      throw RequestError(500, kBackend,
                         fmt::format("embedding {} has a non-finite value ({}) at dimension {}", row, values[d], d));
    }
    if (d > 0) out.push_back(',');
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, values[d]);
    out.append(buf, res.ptr);
  }
  out.push_back(']');
}

std::string json_string(std::string_view s) {
  return json(std::string(s)).dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

}  // namespace

// ------------------------------------------------------------------ parsers

EmbedRequest parse_embed_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  EmbedRequest r;
  read_embed_inputs(f.required("inputs"), "inputs", limits, r.inputs, r);
  r.normalize = f.boolean("normalize", true);
  r.truncate = f.optional_boolean("truncate");
  r.truncation_direction = f.truncation_direction();
  r.prompt_name = f.optional_string("prompt_name");
  r.model = f.optional_string("model");
  return r;
}

OpenAIEmbeddingsRequest parse_openai_embeddings_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  OpenAIEmbeddingsRequest r;
  read_embed_inputs(f.required("input"), "input", limits, r.input, r);
  r.model = f.optional_string("model");
  if (json* v = f.find("encoding_format")) {
    if (v->is_string() && v->get_ref<const std::string&>() == "float") {
      r.encoding_format = EncodingFormat::kFloat;
    } else if (v->is_string() && v->get_ref<const std::string&>() == "base64") {
      r.encoding_format = EncodingFormat::kBase64;
    } else {
      invalid("encoding_format", "expected \"float\" or \"base64\", found " + describe(*v));
    }
  }
  r.dimensions = f.optional_int("dimensions", 1, INT_MAX);
  return r;
}

RerankRequest parse_rerank_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  RerankRequest r;
  r.query = f.required_nonempty_string("query");
  json& texts = f.required("texts");
  if (!texts.is_array()) invalid("texts", "expected a list of strings, found " + describe(texts));
  if (texts.empty()) empty_list("texts");
  check_count("texts", texts.size(), limits);
  r.texts.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) r.texts.push_back(take_string(texts[i], Path{"texts"}.at(i)));
  r.truncate = f.optional_boolean("truncate");
  r.truncation_direction = f.truncation_direction();
  r.raw_scores = f.boolean("raw_scores", false);
  r.return_text = f.boolean("return_text", false);
  r.top_n = f.optional_int("top_n", 1, INT_MAX);
  r.model = f.optional_string("model");
  return r;
}

PredictRequest parse_predict_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  PredictRequest r;
  json& v = f.required("inputs");
  const Path inputs{"inputs"};
  if (v.is_string() || v.is_binary()) {
    r.inputs.push_back({take_string(v, inputs), std::nullopt});
    r.single_input = true;
  } else if (!v.is_array()) {
    invalid(inputs, "expected a string, [text, text_pair] or a list of [text] / [text, text_pair], found " +
                        describe(v));
  } else if (v.empty()) {
    empty_list("inputs");
  } else if (v[0].is_string() || v[0].is_binary()) {
    // One sequence: ["text"] or ["text", "text_pair"] (TEI: a flat list is never a batch).
    if (v.size() > 2) {
      invalid(inputs, fmt::format("a list of {} strings; a flat list is one input, [text] or [text, text_pair] "
                                  "(a batch is [[text], [text, text_pair], ...])",
                                  v.size()));
    }
    PredictInput in{take_string(v[0], inputs.at(0)), std::nullopt};
    if (v.size() == 2) in.text_pair = take_string(v[1], inputs.at(1));
    r.inputs.push_back(std::move(in));
    r.single_input = true;
  } else {
    check_count("inputs", v.size(), limits);
    r.inputs.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      json& item = v[i];
      Path path = inputs.at(i);
      if (!item.is_array() || item.empty() || item.size() > 2) {
        invalid(path, "expected [text] or [text, text_pair], found " + describe(item));
      }
      PredictInput in{take_string(item[0], path.at(0)), std::nullopt};
      if (item.size() == 2) in.text_pair = take_string(item[1], path.at(1));
      r.inputs.push_back(std::move(in));
    }
  }
  r.truncate = f.optional_boolean("truncate");
  r.truncation_direction = f.truncation_direction();
  r.raw_scores = f.boolean("raw_scores", false);
  r.top_k = f.optional_int("top_k", 1, INT_MAX);
  r.model = f.optional_string("model");
  return r;
}

TagRequest parse_tag_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  TagRequest r;
  read_texts(f.required("inputs"), "inputs", limits, r.inputs, r);
  r.aggregation_strategy = aggregation_strategy(f);
  if (json* v = f.find("ignore_labels")) {
    if (!v->is_array()) invalid("ignore_labels", "expected a list of strings, found " + describe(*v));
    r.ignore_labels.clear();
    for (std::size_t i = 0; i < v->size(); ++i) {
      r.ignore_labels.push_back(take_string((*v)[i], Path{"ignore_labels"}.at(i)));
    }
  }
  r.truncate = f.optional_boolean("truncate");
  r.model = f.optional_string("model");
  return r;
}

TokenizeRequest parse_tokenize_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  TokenizeRequest r;
  read_texts(f.required("inputs"), "inputs", limits, r.inputs, r);
  r.add_special_tokens = f.boolean("add_special_tokens", true);
  r.prompt_name = f.optional_string("prompt_name");
  r.model = f.optional_string("model");
  return r;
}

DecodeRequest parse_decode_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  DecodeRequest r;
  json& v = f.required("ids");
  const Path ids{"ids"};
  if (!v.is_array()) invalid(ids, "expected a list of token ids or a list of token-id lists, found " + describe(v));
  if (v.empty()) empty_list("ids");
  if (v[0].is_array()) {
    check_count("ids", v.size(), limits);
    r.ids.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) r.ids.push_back(token_ids(v[i], ids.at(i)));
  } else {
    r.ids.push_back(token_ids(v, ids));
    r.single_input = true;
  }
  r.skip_special_tokens = f.boolean("skip_special_tokens", true);
  r.model = f.optional_string("model");
  return r;
}

TranslateRequest parse_translate_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  TranslateRequest r;
  json* text = f.find("text");
  json* inputs = f.find("inputs");
  if (text && inputs) invalid("text", "give either 'text' or its alias 'inputs', not both");
  if (!text && !inputs) throw RequestError(400, kValidation, "missing required field 'text' (or its alias 'inputs')");
  read_texts(text ? *text : *inputs, text ? "text" : "inputs", limits, r.text, r);
  r.source_lang = f.optional_string("source_lang");
  if (r.source_lang && r.source_lang->empty()) invalid("source_lang", "must not be empty");
  r.target_lang = f.required_nonempty_string("target_lang");
  r.num_beams = f.optional_int("num_beams", 1, 16);
  r.max_new_tokens = f.optional_int("max_new_tokens", 1, 4096);
  r.model = f.optional_string("model");
  return r;
}

ChatRequest parse_chat_request(std::string_view body, const Limits& limits) {
  json root = parse_body(body, limits);
  Fields f(root);
  ChatRequest r;
  json& messages = f.required("messages");
  if (!messages.is_array()) invalid("messages", "expected a list of {\"role\", \"content\"} objects, found " + describe(messages));
  if (messages.empty()) invalid("messages", "empty list (at least one message is required)");
  check_count("messages", messages.size(), limits);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Path at = Path{"messages"}.at(i);
    json& m = messages[i];
    if (!m.is_object()) invalid(at, "expected an object with \"role\" and \"content\", found " + describe(m));
    ChatMessage msg;
    auto role = m.find("role");
    if (role == m.end() || role->is_null()) invalid(at, "missing \"role\"");
    msg.role = take_string(*role, at);
    if (msg.role.empty()) invalid(at, "\"role\" must not be empty");
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      invalid(at, "missing \"content\" (tool calls are not supported)");
    } else if (content->is_array()) {  // text parts
      for (std::size_t k = 0; k < content->size(); ++k) {
        json& part = (*content)[k];
        const Path pat = at.at(k);
        auto type = part.is_object() ? part.find("type") : part.end();
        if (!part.is_object() || type == part.end() || !type->is_string() || *type != "text" || !part.contains("text")) {
          invalid(pat, "only text content parts ({\"type\": \"text\", \"text\": ...}) are supported");
        }
        msg.content += take_string(part["text"], pat);
      }
    } else {
      msg.content = take_string(*content, at);
    }
    r.messages.push_back(std::move(msg));
  }
  r.model = f.optional_string("model");
  auto mct = f.optional_int("max_completion_tokens", 1, 32768);
  auto mt = f.optional_int("max_tokens", 1, 32768);
  r.max_tokens = mct ? mct : mt;
  r.temperature = f.optional_number("temperature", 0.0, 2.0);
  r.top_p = f.optional_number("top_p", 0.0, 1.0, /*min_open=*/true);
  r.seed = f.optional_int("seed", 0, INT_MAX);
  if (auto n = f.optional_int("n", 1, INT_MAX); n && *n != 1) invalid("n", fmt::format("only n = 1 is supported, found {}", *n));
  if (f.boolean("logprobs", false)) invalid("logprobs", "log probabilities are not returned");
  for (const char* k : {"presence_penalty", "frequency_penalty"}) {
    if (auto v = f.optional_number(k, -2.0, 2.0); v && *v != 0.0) invalid(k, "only 0 is supported (see repetition penalties in docs/http-api.md)");
  }
  if (json* stop = f.find("stop")) {
    if (stop->is_string() || stop->is_binary()) {
      r.stop.push_back(take_string(*stop, Path{"stop"}));
    } else if (stop->is_array()) {
      if (stop->size() > 4) invalid("stop", fmt::format("at most 4 stop strings, found {}", stop->size()));
      for (std::size_t i = 0; i < stop->size(); ++i) r.stop.push_back(take_string((*stop)[i], Path{"stop"}.at(i)));
    } else {
      invalid("stop", "expected a string or a list of strings, found " + describe(*stop));
    }
    for (std::size_t i = 0; i < r.stop.size(); ++i) {
      if (r.stop[i].empty()) invalid(Path{"stop"}.at(i), "must not be empty");
    }
  }
  r.stream = f.boolean("stream", false);
  return r;
}

// ------------------------------------------------------------------ writers

void append_json_float(std::string& out, float value) {
  if (!std::isfinite(value)) {
    throw RequestError(500, kBackend, fmt::format("cannot write the non-finite value {} as JSON", value));
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, res.ptr);
}

std::string embeddings_to_json(const std::vector<std::vector<float>>& vectors) {
  std::string out = "[";
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_vector(out, vectors[i].data(), vectors[i].size(), i);
  }
  out.push_back(']');
  return out;
}

std::string embeddings_to_json(std::span<const float> values, std::size_t dim) {
  if (dim == 0 || values.size() % dim != 0) {
    throw InvalidArgument(fmt::format("embeddings_to_json: {} values do not form rows of {}", values.size(), dim));
  }
  std::string out = "[";
  for (std::size_t i = 0; i < values.size() / dim; ++i) {
    if (i > 0) out.push_back(',');
    append_vector(out, values.data() + i * dim, dim, i);
  }
  out.push_back(']');
  return out;
}

std::string openai_embeddings_response(const std::vector<std::vector<float>>& vectors, std::string_view model_name,
                                       std::size_t prompt_tokens, bool base64) {
  std::string out = R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += R"({"object":"embedding","embedding":)";
    if (base64) {
      // Checked like the float form: a NaN embedding is a model failure either way.
      for (std::size_t d = 0; d < vectors[i].size(); ++d) {
        if (!std::isfinite(vectors[i][d])) {
          throw RequestError(500, kBackend, fmt::format("embedding {} has a non-finite value ({}) at dimension {}", i,
                                                        vectors[i][d], d));
        }
      }
      out += '"' + base64_encode_f32le(vectors[i]) + '"';
    } else {
      append_vector(out, vectors[i].data(), vectors[i].size(), i);
    }
    out += fmt::format(R"(,"index":{}}})", i);
  }
  out += fmt::format(R"(],"model":{},"usage":{{"prompt_tokens":{},"total_tokens":{}}}}})", json_string(model_name),
                     prompt_tokens, prompt_tokens);
  return out;
}

std::string error_body(std::string_view type, std::string_view message) {
  json body = {{"error", std::string(message)}, {"error_type", std::string(type)}};
  return body.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

}  // namespace xling::serve
