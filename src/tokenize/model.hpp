// Tokenizer models (WordPiece, BPE, Unigram): one pre-tokenized piece -> tokens with
// byte offsets inside the piece.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json.hpp"

namespace xling::tokenize {

struct ModelToken {
  int id;
  uint32_t begin, end;  // bytes within the piece
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view piece, std::vector<ModelToken>& out) const = 0;
  virtual std::optional<int> token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(int id) const = 0;  // nullptr when out of range
  virtual std::size_t vocab_size() const = 0;
};

// Vocabulary shared by the models: piece <-> id.
class Vocab {
 public:
  // An object {piece: id} under `key`; errors name the key and the piece.
  static Vocab from_json(const core::JsonFields& f, const std::string& key);
  void add(std::string piece, int id);
  std::optional<int> find(std::string_view piece) const;
  const std::string* piece(int id) const;
  std::size_t size() const { return by_piece_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int, Hash, std::equal_to<>> by_piece_;
  std::vector<std::string> by_id_;
};

// Builds from the tokenizer.json "model" object. Throws InvalidArgument/UnsupportedModel
// naming `source`.
std::unique_ptr<Model> make_model(const nlohmann::json& j, const std::string& source);

std::unique_ptr<Model> make_wordpiece(const nlohmann::json& j, const std::string& source);
std::unique_ptr<Model> make_bpe(const nlohmann::json& j, const std::string& source);

}  // namespace xling::tokenize
