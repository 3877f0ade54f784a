// Decoders (see decoders.hpp), with HF tokenizers' semantics.
#include "tokenize/decoders.hpp"

#include <cctype>
#include <cstdio>

#include <fmt/format.h>

#include "core/json.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit = s.find(from); hit != std::string::npos; hit = s.find(from, pos)) {
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

void cleanup(std::string& s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) replace_all(s, from, to);
}

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool clean) : prefix_(std::move(prefix)), cleanup_(clean) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
        else t.insert(0, " ");
      }
      if (cleanup_) cleanup(t);
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, bool prepend) : rep_(std::move(rep)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    // HF drops every replacement char of the first token when a prefix was prepended.
    for (std::size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], rep_, i == 0 && prepend_ ? "" : " ");
  }

 private:
  std::string rep_;
  bool prepend_;
};

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      std::string mapped;
      bool ok = true;
      for (char32_t c : to_codepoints(t)) {
        int b = char_to_byte(c);
        if (b < 0) {
          ok = false;
          break;
        }
        mapped.push_back(static_cast<char>(b));
      }
      bytes += ok ? mapped : t;
    }
    tokens.assign(1, replace_invalid_utf8(bytes));
  }
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    std::size_t pending_count = 0;
    auto flush = [&]() {
      if (pending_count == 0) return;
      if (find_invalid_utf8(pending) == std::string::npos) {
        out.push_back(pending);
      } else {
        for (std::size_t k = 0; k < pending_count; ++k) out.push_back("\xEF\xBF\xBD");
      }
      pending.clear();
      pending_count = 0;
    };
    for (auto& t : tokens) {
      unsigned v = 0;
      bool is_byte = t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
                     std::sscanf(t.c_str() + 3, "%2x", &v) == 1 && std::isxdigit(static_cast<unsigned char>(t[3])) &&
                     std::isxdigit(static_cast<unsigned char>(t[4]));
      if (is_byte) {
        pending.push_back(static_cast<char>(v));
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, all);
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, std::size_t start, std::size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    if (content_.empty()) return;
    for (auto& t : tokens) {
      for (std::size_t k = 0; k < start_ && t.compare(0, content_.size(), content_) == 0; ++k) t.erase(0, content_.size());
      for (std::size_t k = 0; k < stop_ && t.size() >= content_.size() &&
                              t.compare(t.size() - content_.size(), content_.size(), content_) == 0;
           ++k) {
        t.erase(t.size() - content_.size());
      }
    }
  }

 private:
  std::string content_;
  std::size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) replace_all(t, from_, to_);
  }

 private:
  std::string from_, to_;
};

class BpeSuffixDecoder : public Decoder {  // "BPEDecoder": suffix marks word ends
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> items) : items_(std::move(items)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : items_) d->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> items_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string where = source + ": decoder";
  core::JsonFields f(j, where);
  std::string type = f.string("type");
  if (type == "WordPiece") return std::make_unique<WordPieceDecoder>(f.string_or("prefix", "##"), f.boolean_or("cleanup", true));
  if (type == "Metaspace") {
    bool prepend = true;
    if (f.has("prepend_scheme")) prepend = f.string("prepend_scheme") != "never";
    else if (f.has("add_prefix_space")) prepend = f.boolean_or("add_prefix_space", true);
    return std::make_unique<MetaspaceDecoder>(f.string_or("replacement", "\u2581"), prepend);
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    return std::make_unique<StripDecoder>(f.string_or("content", " "), static_cast<std::size_t>(f.integer_or("start", 0)),
                                          static_cast<std::size_t>(f.integer_or("stop", 0)));
  }
  if (type == "Replace") {
    const auto& p = f.raw("pattern");
    if (!p.is_object() || !p.contains("String") || !p["String"].is_string()) {
      throw UnsupportedModel(fmt::format("{}: Replace decoder supports only {{\"String\": ...}} patterns", where));
    }
    return std::make_unique<ReplaceDecoder>(p["String"].get<std::string>(), f.string_or("content", ""));
  }
  if (type == "BPEDecoder") return std::make_unique<BpeSuffixDecoder>(f.string_or("suffix", "</w>"));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> items;
    const auto& list = f.raw("decoders");
    if (!list.is_array()) f.fail("decoders", "expected a list");
    for (const auto& item : list) {
      if (auto d = make_decoder(item, source)) items.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(items));
  }
  throw UnsupportedModel(fmt::format("{}: decoder type '{}' is not supported", where, type));
}

}  // namespace xling::tokenize
