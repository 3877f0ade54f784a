// Model factory for tokenizer.json, and the Unigram model adapter (the Viterbi lattice
// itself is in unigram.cpp, shared with sentencepiece .model files).
#include <fmt/format.h>

#include "core/json.hpp"
#include "tokenize/model.hpp"
#include "tokenize/unigram.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

class HfUnigram : public Model {
 public:
  HfUnigram(UnigramModel model, Vocab vocab) : model_(std::move(model)), vocab_(std::move(vocab)) {}
  void tokenize(std::string_view piece, std::vector<ModelToken>& out) const override {
    std::vector<UnigramToken> toks;
    model_.encode(piece, toks);
    for (const auto& t : toks) out.push_back({t.id, t.begin, t.end});
  }
  std::optional<int> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int id) const override { return vocab_.piece(id); }
  std::size_t vocab_size() const override { return vocab_.size(); }

 private:
  UnigramModel model_;
  Vocab vocab_;
};

std::unique_ptr<Model> make_unigram(const nlohmann::json& j, const std::string& where) {
  core::JsonFields f(j, where);
  const auto& v = f.raw("vocab");
  if (!v.is_array()) f.fail("vocab", "expected a list of [piece, score]");
  std::vector<std::string> pieces;
  std::vector<double> scores;
  Vocab vocab;
  pieces.reserve(v.size());
  scores.reserve(v.size());
  for (const auto& e : v) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) {
      f.fail("vocab", fmt::format("entry {} is not [piece, score]", core::json_excerpt(e)));
    }
    vocab.add(e[0].get<std::string>(), static_cast<int>(pieces.size()));
    pieces.push_back(e[0].get<std::string>());
    scores.push_back(e[1].get<double>());
  }
  UnigramOptions o;
  o.byte_fallback = f.boolean_or("byte_fallback", false);
  if (f.has("unk_id")) {
    int64_t unk = f.integer("unk_id");
    if (unk < 0 || unk >= static_cast<int64_t>(pieces.size())) f.fail("unk_id", "is outside the vocabulary");
    o.unk_id = static_cast<int>(unk);
  } else {
    o.unk_id = -1;
  }
  std::vector<bool> matchable(pieces.size(), true);
  return std::make_unique<HfUnigram>(UnigramModel(std::move(pieces), std::move(scores), std::move(matchable), o),
                                     std::move(vocab));
}

}  // namespace

std::unique_ptr<Model> make_model(const nlohmann::json& j, const std::string& source) {
  std::string where = source + ": model";
  core::JsonFields f(j, where);
  std::string type = f.has("type") ? f.string("type") : "";
  if (type.empty()) {  // old files omit the type
    if (j.contains("merges")) type = "BPE";
    else if (j.contains("vocab") && j["vocab"].is_array()) type = "Unigram";
    else type = "WordPiece";
  }
  if (type == "WordPiece") return make_wordpiece(j, where);
  if (type == "BPE") return make_bpe(j, where);
  if (type == "Unigram") return make_unigram(j, where);
  throw UnsupportedModel(fmt::format("{}: model type '{}' is not supported (WordPiece, BPE, Unigram)", where, type));
}

}  // namespace xling::tokenize
