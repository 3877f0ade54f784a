// WordPiece (BERT): greedy longest-match-first with a continuing-subword prefix; a word
// with no segmentation, or longer than max_input_chars_per_word, becomes one unk token.
#include <fmt/format.h>

#include "core/json.hpp"
#include "tokenize/model.hpp"
#include "tokenize/unicode.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

class WordPiece : public Model {
 public:
  WordPiece(Vocab vocab, int unk, std::string prefix, std::size_t max_chars)
      : vocab_(std::move(vocab)), unk_(unk), prefix_(std::move(prefix)), max_chars_(max_chars) {}

  void tokenize(std::string_view word, std::vector<ModelToken>& out) const override {
    std::size_t chars = 0;
    for (unsigned char c : word) chars += (c & 0xC0) != 0x80;
    if (chars > max_chars_) {
      out.push_back({unk_, 0, static_cast<uint32_t>(word.size())});
      return;
    }
    std::size_t mark = out.size();
    std::string candidate;
    std::size_t start = 0;
    while (start < word.size()) {
      std::size_t end = word.size();
      std::optional<int> found;
      while (start < end) {
        candidate.clear();
        if (start > 0) candidate = prefix_;
        candidate.append(word.substr(start, end - start));
        if ((found = vocab_.find(candidate))) break;
        // Step back one UTF-8 char.
        do --end; while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.resize(mark);
        out.push_back({unk_, 0, static_cast<uint32_t>(word.size())});
        return;
      }
      out.push_back({*found, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
      start = end;
    }
  }
  std::optional<int> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int id) const override { return vocab_.piece(id); }
  std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  int unk_;
  std::string prefix_;
  std::size_t max_chars_;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(const nlohmann::json& j, const std::string& where) {
  core::JsonFields f(j, where);
  Vocab vocab = Vocab::from_json(f, "vocab");
  std::string unk = f.string_or("unk_token", "[UNK]");
  auto unk_id = vocab.find(unk);
  if (!unk_id) f.fail("unk_token", "is not in the vocabulary");
  return std::make_unique<WordPiece>(std::move(vocab), *unk_id, f.string_or("continuing_subword_prefix", "##"),
                                     static_cast<std::size_t>(f.integer_or("max_input_chars_per_word", 100)));
}

}  // namespace xling::tokenize
