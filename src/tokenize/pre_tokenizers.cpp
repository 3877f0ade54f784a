// tokenizer.json pre-tokenizers (see pre_tokenizers.hpp), with HF tokenizers' semantics.
#include "tokenize/pre_tokenizers.hpp"

#include <fmt/format.h>

#include "core/json.hpp"
#include "tokenize/regex.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {

void pre_tokenize(const PreTokenizer* pre, std::vector<NormalizedString>& pieces) {
  if (!pre) return;
  std::vector<NormalizedString> out;
  out.reserve(pieces.size() * 2);
  for (auto& p : pieces) pre->split(std::move(p), out);
  pieces = std::move(out);
}

void byte_level_transform(NormalizedString& s) {
  const std::string& t = s.get();
  std::vector<CharChange> changes;
  changes.reserve(t.size());
  for (std::size_t i = 0; i < t.size();) {
    char32_t c;
    int n = decode_utf8(t, i, c);
    for (int k = 0; k < n; ++k) changes.emplace_back(byte_to_char(static_cast<uint8_t>(t[i + k])), k > 0 ? 1 : 0);
    i += static_cast<std::size_t>(n);
  }
  s.transform(changes);
}

namespace {

void push_nonempty(std::vector<NormalizedString>& out, std::vector<NormalizedString> parts) {
  for (auto& p : parts) {
    if (!p.empty()) out.push_back(std::move(p));
  }
}

class BertPre : public PreTokenizer {
 public:
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    for (auto& word : piece.split(match_chars(piece.get(), is_whitespace), SplitBehavior::kRemoved)) {
      push_nonempty(out, word.split(match_chars(word.get(), is_bert_punctuation), SplitBehavior::kIsolated));
    }
  }
};

class WhitespaceSplitPre : public PreTokenizer {
 public:
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    push_nonempty(out, piece.split(match_chars(piece.get(), is_whitespace), SplitBehavior::kRemoved));
  }
};

class RegexSplitPre : public PreTokenizer {
 public:
  RegexSplitPre(std::unique_ptr<Regex> re, SplitBehavior b, bool invert) : re_(std::move(re)), behavior_(b), invert_(invert) {}
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    MatchList m = re_->find_matches(piece.get());
    if (invert_) {
      for (auto& x : m) x.second = !x.second;
    }
    push_nonempty(out, piece.split(m, behavior_));
  }

 private:
  std::unique_ptr<Regex> re_;
  SplitBehavior behavior_;
  bool invert_;
};

class LiteralSplitPre : public PreTokenizer {
 public:
  LiteralSplitPre(std::string lit, SplitBehavior b, bool invert) : lit_(std::move(lit)), behavior_(b), invert_(invert) {}
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    const std::string& t = piece.get();
    MatchList m;
    std::size_t prev = 0;
    if (!lit_.empty()) {
      for (std::size_t pos = t.find(lit_); pos != std::string::npos; pos = t.find(lit_, pos + lit_.size())) {
        if (prev < pos) m.push_back({{static_cast<uint32_t>(prev), static_cast<uint32_t>(pos)}, false});
        m.push_back({{static_cast<uint32_t>(pos), static_cast<uint32_t>(pos + lit_.size())}, true});
        prev = pos + lit_.size();
      }
    }
    if (prev < t.size()) m.push_back({{static_cast<uint32_t>(prev), static_cast<uint32_t>(t.size())}, false});
    if (invert_) {
      for (auto& x : m) x.second = !x.second;
    }
    push_nonempty(out, piece.split(m, behavior_));
  }

 private:
  std::string lit_;
  SplitBehavior behavior_;
  bool invert_;
};

class CharSplitPre : public PreTokenizer {
 public:
  CharSplitPre(std::function<bool(char32_t)> pred, SplitBehavior b) : pred_(std::move(pred)), behavior_(b) {}
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    push_nonempty(out, piece.split(match_chars(piece.get(), pred_), behavior_));
  }

 private:
  std::function<bool(char32_t)> pred_;
  SplitBehavior behavior_;
};

enum class Prepend { kAlways, kFirst, kNever };

class MetaspacePre : public PreTokenizer {
 public:
  MetaspacePre(std::string replacement, Prepend prepend, bool split)
      : rep_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    const std::string& t = piece.get();
    MatchList spaces;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] == ' ') spaces.push_back({{static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1)}, true});
    }
    if (!spaces.empty()) piece.replace(spaces, rep_);
    bool starts = piece.get().compare(0, rep_.size(), rep_) == 0;
    if (!starts && (prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && piece.original_begin() == 0))) {
      piece.prepend(rep_);
    }
    if (!split_) {
      if (!piece.empty()) out.push_back(std::move(piece));
      return;
    }
    const std::string& u = piece.get();
    MatchList m;
    std::size_t prev = 0;
    for (std::size_t pos = u.find(rep_); pos != std::string::npos; pos = u.find(rep_, pos + rep_.size())) {
      if (prev < pos) m.push_back({{static_cast<uint32_t>(prev), static_cast<uint32_t>(pos)}, false});
      m.push_back({{static_cast<uint32_t>(pos), static_cast<uint32_t>(pos + rep_.size())}, true});
      prev = pos + rep_.size();
    }
    if (prev < u.size()) m.push_back({{static_cast<uint32_t>(prev), static_cast<uint32_t>(u.size())}, false});
    push_nonempty(out, piece.split(m, SplitBehavior::kMergedWithNext));
  }

 private:
  std::string rep_;
  Prepend prepend_;
  bool split_;
};

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex, const std::string& source)
      : add_prefix_space_(add_prefix_space), re_(use_regex ? std::make_unique<Regex>(kGpt2Pattern, source) : nullptr) {}
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    if (add_prefix_space_ && piece.get().compare(0, 1, " ") != 0) piece.prepend(" ");
    std::vector<NormalizedString> parts;
    if (re_) {
      parts = piece.split(re_->find_matches(piece.get()), SplitBehavior::kIsolated);
    } else {
      parts.push_back(std::move(piece));
    }
    for (auto& p : parts) {
      if (p.empty()) continue;
      byte_level_transform(p);
      out.push_back(std::move(p));
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

class DigitsPre : public PreTokenizer {
 public:
  explicit DigitsPre(bool individual) : individual_(individual) {}
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    auto is_digit = [](char32_t c) { return is_number(c); };  // Rust char::is_numeric
    push_nonempty(out, piece.split(match_chars(piece.get(), is_digit),
                                   individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous));
  }

 private:
  bool individual_;
};

class SequencePre : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> items) : items_(std::move(items)) {}
  void split(NormalizedString piece, std::vector<NormalizedString>& out) const override {
    std::vector<NormalizedString> pieces;
    pieces.push_back(std::move(piece));
    for (const auto& p : items_) pre_tokenize(p.get(), pieces);
    for (auto& p : pieces) out.push_back(std::move(p));
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

SplitBehavior parse_behavior(const core::JsonFields& f, const std::string& key, const std::string& fallback) {
  std::string b = f.string_or(key, fallback);
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  f.fail(key, "expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string where = source + ": pre_tokenizer";
  core::JsonFields f(j, where);
  std::string type = f.string("type");
  if (type == "BertPreTokenizer") return std::make_unique<BertPre>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPre>();
  if (type == "Whitespace") {
    // \w+|[^\w\s]+, keeping the matches.
    return std::make_unique<RegexSplitPre>(std::make_unique<Regex>(R"(\w+|[^\w\s]+)", where), SplitBehavior::kRemoved,
                                           /*invert=*/true);
  }
  if (type == "Metaspace") {
    std::string rep = f.string_or("replacement", "\u2581");
    Prepend prepend = Prepend::kAlways;
    if (f.has("prepend_scheme")) {
      std::string s = f.string("prepend_scheme");
      if (s == "always") prepend = Prepend::kAlways;
      else if (s == "first") prepend = Prepend::kFirst;
      else if (s == "never") prepend = Prepend::kNever;
      else f.fail("prepend_scheme", "expected always, first or never");
    } else if (f.has("add_prefix_space")) {  // older spelling
      prepend = f.boolean_or("add_prefix_space", true) ? Prepend::kAlways : Prepend::kNever;
    }
    return std::make_unique<MetaspacePre>(rep, prepend, f.boolean_or("split", true));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPre>(f.boolean_or("add_prefix_space", true), f.boolean_or("use_regex", true), where);
  }
  if (type == "Split") {
    SplitBehavior b = parse_behavior(f, "behavior", "Isolated");
    bool invert = f.boolean_or("invert", false);
    const auto& p = f.raw("pattern");
    if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
      return std::make_unique<RegexSplitPre>(std::make_unique<Regex>(p["Regex"].get<std::string>(), where), b, invert);
    }
    if (p.is_object() && p.contains("String") && p["String"].is_string()) {
      return std::make_unique<LiteralSplitPre>(p["String"].get<std::string>(), b, invert);
    }
    f.fail("pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
  }
  if (type == "Digits") return std::make_unique<DigitsPre>(f.boolean_or("individual_digits", false));
  if (type == "Punctuation") {
    return std::make_unique<CharSplitPre>(is_bert_punctuation, parse_behavior(f, "behavior", "Isolated"));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> items;
    const auto& list = f.raw("pretokenizers");
    if (!list.is_array()) f.fail("pretokenizers", "expected a list");
    for (const auto& item : list) {
      if (auto p = make_pre_tokenizer(item, source)) items.push_back(std::move(p));
    }
    return std::make_unique<SequencePre>(std::move(items));
  }
  throw UnsupportedModel(fmt::format("{}: pre-tokenizer type '{}' is not supported", where, type));
}

}  // namespace xling::tokenize
