// A Hugging Face tokenizer loaded from tokenizer.json (+ tokenizer_config.json): the whole
// pipeline -- added tokens, normalizer, pre-tokenizer, model, post-processor, decoder --
// with HF tokenizers' results to the offset. Thread-safe for concurrent encode/decode.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenize/added_vocabulary.hpp"
#include "tokenize/decoders.hpp"
#include "tokenize/encoding.hpp"
#include "tokenize/model.hpp"
#include "tokenize/normalizers.hpp"
#include "tokenize/post_processors.hpp"
#include "tokenize/pre_tokenizers.hpp"

namespace xling::tokenize {

enum class Side { kRight, kLeft };

struct TruncationOptions {
  std::size_t max_length = 0;  // 0 = no truncation
  Side side = Side::kRight;
};

struct PaddingOptions {
  bool enabled = false;
  std::size_t length = 0;  // 0 = pad to the longest in the batch
  Side side = Side::kRight;
  int pad_id = 0;
  std::string pad_token;
  int pad_type_id = 0;
};

// The result of encoding a list of words (see Tokenizer::encode_words).
struct WordsEncoding {
  Encoding encoding;          // offsets are bytes within each token's own word
  std::vector<int> word_ids;  // one per token: the index of its word, -1 for added special tokens
};

class Tokenizer {
 public:
  // `path`: tokenizer.json or a directory holding it (tokenizer_config.json beside it is
  // read for pad/eos tokens and padding side). Throws IoError / InvalidArgument /
  // UnsupportedModel naming the file and the field.
  static Tokenizer from_file(const std::string& path);
  static Tokenizer from_json(const nlohmann::json& j, const std::string& source);

  // `text` must be valid UTF-8 (see unicode.hpp: find_invalid_utf8 / replace_invalid_utf8).
  Encoding encode(std::string_view text, bool add_special = true) const;
  Encoding encode_pair(std::string_view a, std::string_view b, bool add_special = true) const;
  // Batch with truncation and padding (as tokenizer(texts, truncation=..., padding=...)).
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const std::vector<std::string>* pairs,
                                     bool add_special, const TruncationOptions& trunc, const PaddingOptions& pad) const;
  // As transformers' tokenizer(words, is_split_into_words=True): every word is normalized,
  // pre-tokenized and tokenized on its own (as HF tokenizers encodes a pre-tokenized input),
  // then the post-processor adds the special tokens. A word that gives no token (empty, or only
  // spaces for most tokenizers) has none. trunc.max_length > 0 keeps the words' first tokens
  // so that the result, specials included, fits (InvalidArgument when the specials alone do not).
  WordsEncoding encode_words(const std::vector<std::string>& words, bool add_special,
                             const TruncationOptions& trunc = {}) const;
  std::string decode(const std::vector<int>& ids, bool skip_special) const;
  // Token strings -> text through the decoder (transformers' convert_tokens_to_string).
  std::string decode_tokens(std::vector<std::string> tokens) const;

  std::optional<int> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int id) const;
  std::size_t vocab_size() const;
  // Ids of the added tokens marked special (those decode(skip_special) drops), ascending.
  std::vector<int> special_ids() const;
  // tokenizer_config.json's mask_token, when the file has one that is in the vocabulary.
  std::optional<int> mask_id() const { return mask_id_; }
  // Defaults from tokenizer.json "padding" / tokenizer_config.json (pad token, side).
  const PaddingOptions& default_padding() const { return default_padding_; }
  std::string model_type() const { return model_type_; }  // tokenizer.json model: WordPiece, BPE, Unigram

 private:
  Encoding encode_one(std::string_view text, int sequence) const;
  void truncate_pair(Encoding& a, Encoding* b, std::size_t max_tokens, Side side) const;

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  std::shared_ptr<AddedVocabulary> added_;
  PaddingOptions default_padding_;
  std::optional<int> mask_id_;
  std::string model_type_;
};

// Byte offsets -> character (code point) offsets of `text`, as HF's Python API returns.
std::vector<Offsets> to_char_offsets(std::string_view text, const std::vector<Offsets>& byte_offsets);

}  // namespace xling::tokenize
