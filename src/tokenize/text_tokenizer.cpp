// Tokenizer kinds behind one interface (see text_tokenizer.hpp).
#include "tokenize/text_tokenizer.hpp"

#include <filesystem>
#include <cctype>
#include <fstream>

#include <fmt/format.h>

#include "tokenize/sentencepiece_tokenizer.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

class JsonTokenizer : public TextTokenizer {
 public:
  explicit JsonTokenizer(Tokenizer t) : t_(std::move(t)) {}
  Encoding encode(std::string_view text, bool add_special) const override { return t_.encode(text, add_special); }
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                     bool add_special, const TruncationOptions& trunc,
                                     const PaddingOptions& pad) const override {
    return t_.encode_batch(texts, pairs, add_special, trunc, pad);
  }
  std::string decode(const std::vector<int>& ids, bool skip_special) const override { return t_.decode(ids, skip_special); }
  const PaddingOptions& default_padding() const override { return t_.default_padding(); }
  std::size_t vocab_size() const override { return t_.vocab_size(); }
  std::string kind() const override { return "tokenizer.json (" + t_.model_type() + ")"; }
  bool has_offsets() const override { return true; }

 private:
  Tokenizer t_;
};

// A raw .model file: what SentencePieceProcessor.encode returns, with sentencepiece's offsets
// into the original text; no special tokens added (sentencepiece adds none by default);
// padding uses the model's pad id (or 0).
class SpmTokenizer : public TextTokenizer {
 public:
  explicit SpmTokenizer(SentencePieceTokenizer t) : t_(std::move(t)) {
    padding_.pad_id = t_.pad_id() >= 0 ? t_.pad_id() : 0;
    padding_.pad_token = t_.id_to_piece(padding_.pad_id);
  }
  Encoding encode(std::string_view text, bool) const override {
    Encoding e;
    for (const auto& t : t_.encode_with_offsets(text)) e.push(t.id, t_.id_to_piece(t.id), {t.begin, t.end}, 0, false, 0);
    return e;
  }
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                     bool add_special, const TruncationOptions& trunc,
                                     const PaddingOptions& pad) const override {
    if (pairs) throw InvalidArgument("sentencepiece .model tokenizers take single texts, not pairs");
    std::vector<Encoding> out;
    std::size_t longest = 0;
    for (const auto& t : texts) {
      out.push_back(encode(t, add_special));
      if (trunc.max_length > 0) out.back().truncate(trunc.max_length);
      longest = std::max(longest, out.back().size());
    }
    if (pad.enabled) {
      std::size_t target = pad.length ? pad.length : longest;
      for (auto& e : out) {
        while (e.size() < target) {
          if (pad.side == Side::kRight) {
            e.push(pad.pad_id, pad.pad_token, {0, 0}, 0, true, -1);
            e.attention_mask.back() = 0;
          } else {
            Encoding p;
            p.push(pad.pad_id, pad.pad_token, {0, 0}, 0, true, -1);
            p.attention_mask.back() = 0;
            p.append(e);
            e = std::move(p);
          }
        }
      }
    }
    return out;
  }
  std::string decode(const std::vector<int>& ids, bool) const override { return t_.decode(ids); }
  const PaddingOptions& default_padding() const override { return padding_; }
  std::size_t vocab_size() const override { return t_.vocab_size(); }
  std::string kind() const override { return "sentencepiece .model"; }
  bool has_offsets() const override { return true; }

 private:
  SentencePieceTokenizer t_;
  PaddingOptions padding_;
};

}  // namespace

std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(fmt::format("{}: no such file or directory", path));
  if (!fs::is_directory(path, ec)) {
    // A tokenizer.json starts with '{'; anything else is taken as a protobuf .model.
    std::ifstream in(path, std::ios::binary);
    char c = 0;
    while (in.get(c) && std::isspace(static_cast<unsigned char>(c))) {
    }
    if (c != '{') return std::make_unique<SpmTokenizer>(SentencePieceTokenizer::load(path));
  }
  return std::make_unique<JsonTokenizer>(Tokenizer::from_file(path));
}

}  // namespace xling::tokenize
