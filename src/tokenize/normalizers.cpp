// tokenizer.json normalizers (see normalizers.hpp), with HF tokenizers' semantics.
#include "tokenize/normalizers.hpp"

#include <fmt/format.h>

#include "core/json.hpp"
#include "tokenize/charsmap.hpp"
#include "tokenize/regex.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  void normalize(NormalizedString& s) const override {
    if (clean_) {
      s.filter([](char32_t c) { return !(c == 0 || c == 0xFFFD || is_bert_control(c)); });
      s.map([](char32_t c) { return is_bert_whitespace(c) ? U' ' : c; });
    }
    if (chinese_) {
      bool any = false;
      const std::string& t = s.get();
      for (std::size_t i = 0; i < t.size() && !any;) {
        char32_t c;
        i += static_cast<std::size_t>(decode_utf8(t, i, c));
        any = is_chinese_char(c);
      }
      if (any) {
        std::vector<CharChange> changes;
        for (char32_t c : to_codepoints(t)) {
          if (is_chinese_char(c)) {
            changes.emplace_back(U' ', 0);
            changes.emplace_back(c, 1);
            changes.emplace_back(U' ', 1);
          } else {
            changes.emplace_back(c, 0);
          }
        }
        s.transform(changes);
      }
    }
    if (strip_) {
      s.normalize(NormalForm::kNFD);
      s.filter([](char32_t c) { return !is_mark_nonspacing(c); });
    }
    if (lower_) s.lowercase();
  }

 private:
  bool clean_, chinese_, strip_, lower_;
};

class FormNormalizer : public Normalizer {
 public:
  explicit FormNormalizer(NormalForm f) : form_(f) {}
  void normalize(NormalizedString& s) const override { s.normalize(form_); }

 private:
  NormalForm form_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { s.lowercase(); }
};

class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) { return !is_combining_mark(c); });
  }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool l, bool r) : left_(l), right_(r) {}
  void normalize(NormalizedString& s) const override { s.strip(left_, right_); }

 private:
  bool left_, right_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  void normalize(NormalizedString& s) const override { s.prepend(prepend_); }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::string literal, std::unique_ptr<Regex> regex, std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}
  void normalize(NormalizedString& s) const override {
    MatchList m;
    if (regex_) {
      m = regex_->find_matches(s.get());
    } else {
      if (literal_.empty()) return;
      const std::string& t = s.get();
      for (std::size_t pos = t.find(literal_); pos != std::string::npos; pos = t.find(literal_, pos + literal_.size())) {
        m.push_back({{static_cast<uint32_t>(pos), static_cast<uint32_t>(pos + literal_.size())}, true});
      }
    }
    s.replace(m, content_);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

// The sentencepiece charsmap as HF applies it: per grapheme (< 6 bytes) first, else per char.
class PrecompiledNormalizer : public Normalizer {
 public:
  explicit PrecompiledNormalizer(CharsMap map) : map_(std::move(map)) {}
  void normalize(NormalizedString& s) const override {
    const std::string& t = s.get();
    if (t.empty()) return;
    std::vector<CharChange> changes;
    changes.reserve(t.size());
    bool modified = false;
    auto replace = [&](std::string_view old_part, std::string_view new_part) {
      int old_count = static_cast<int>(to_codepoints(old_part).size());
      std::vector<char32_t> add = to_codepoints(new_part);
      int diff = static_cast<int>(add.size()) - old_count;
      for (char32_t c : add) changes.emplace_back(c, 0);
      if (diff > 0) {
        for (int k = 0; k < diff; ++k) changes[changes.size() - 1 - static_cast<std::size_t>(k)].second = 1;
      } else if (diff < 0 && !changes.empty()) {
        changes.back().second += diff;
      }
    };
    std::vector<std::size_t> g = grapheme_starts(t);
    for (std::size_t k = 0; k + 1 < g.size(); ++k) {
      std::string_view grapheme(t.data() + g[k], g[k + 1] - g[k]);
      if (grapheme.size() < 6) {
        if (auto norm = map_.hf_transform(grapheme)) {
          modified = true;
          replace(grapheme, *norm);
          continue;
        }
      }
      for (std::size_t i = 0; i < grapheme.size();) {
        char32_t c;
        int n = decode_utf8(grapheme, i, c);
        std::string_view part = grapheme.substr(i, static_cast<std::size_t>(n));
        if (auto norm = map_.hf_transform(part)) {
          modified = true;
          replace(part, *norm);
        } else {
          changes.emplace_back(c, 0);
        }
        i += static_cast<std::size_t>(n);
      }
    }
    if (modified) s.transform(changes);
  }

 private:
  CharsMap map_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> items) : items_(std::move(items)) {}
  void normalize(NormalizedString& s) const override {
    for (const auto& n : items_) n->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> items_;
};

std::string base64_decode(std::string_view in, const std::string& source) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = value(c);
    if (v < 0) throw InvalidArgument(fmt::format("{}: precompiled_charsmap is not valid base64", source));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// A "pattern" field: {"String": "..."} or {"Regex": "..."}.
void read_pattern(const nlohmann::json& p, const std::string& where, std::string& literal, std::unique_ptr<Regex>& regex) {
  if (p.is_object() && p.contains("String") && p["String"].is_string()) {
    literal = p["String"].get<std::string>();
  } else if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
    regex = std::make_unique<Regex>(p["Regex"].get<std::string>(), where);
  } else {
    throw InvalidArgument(fmt::format("{}: 'pattern' must be {{\"String\": ...}} or {{\"Regex\": ...}}, found {}", where,
                                      core::json_excerpt(p)));
  }
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string where = source + ": normalizer";
  core::JsonFields f(j, where);
  std::string type = f.string("type");
  if (type == "BertNormalizer") {
    bool lower = f.boolean_or("lowercase", true);
    bool strip = f.has("strip_accents") ? f.boolean_or("strip_accents", lower) : lower;
    return std::make_unique<BertNormalizer>(f.boolean_or("clean_text", true), f.boolean_or("handle_chinese_chars", true),
                                            strip, lower);
  }
  if (type == "NFC") return std::make_unique<FormNormalizer>(NormalForm::kNFC);
  if (type == "NFD") return std::make_unique<FormNormalizer>(NormalForm::kNFD);
  if (type == "NFKC") return std::make_unique<FormNormalizer>(NormalForm::kNFKC);
  if (type == "NFKD") return std::make_unique<FormNormalizer>(NormalForm::kNFKD);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "Strip") return std::make_unique<StripNormalizer>(f.boolean_or("strip_left", true), f.boolean_or("strip_right", true));
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(f.string("prepend"));
  if (type == "Replace") {
    std::string literal;
    std::unique_ptr<Regex> regex;
    read_pattern(f.raw("pattern"), where, literal, regex);
    return std::make_unique<ReplaceNormalizer>(literal, std::move(regex), f.string_or("content", ""));
  }
  if (type == "Precompiled") {
    std::string blob = f.has("precompiled_charsmap") ? base64_decode(f.string("precompiled_charsmap"), where) : "";
    if (blob.empty()) return std::make_unique<SequenceNormalizer>(std::vector<std::unique_ptr<Normalizer>>{});
    return std::make_unique<PrecompiledNormalizer>(CharsMap::parse(blob, where));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> items;
    const auto& list = f.raw("normalizers");
    if (!list.is_array()) f.fail("normalizers", "expected a list");
    for (const auto& item : list) {
      if (auto n = make_normalizer(item, source)) items.push_back(std::move(n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(items));
  }
  throw UnsupportedModel(fmt::format("{}: normalizer type '{}' is not supported", where, type));
}

}  // namespace xling::tokenize
