// SentencePieceTokenizer: encodes and decodes with a sentencepiece .model file exactly like
// sentencepiece.SentencePieceProcessor(model_file=...).encode(text) / decode(ids) with default
// options: the spm normalizer (precompiled charsmap, whitespace rules, U+2581 escaping,
// user-defined pieces kept verbatim), then the Unigram, BPE, word or char model.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenize/sentencepiece_model.hpp"

namespace xling::tokenize {

class SentencePieceTokenizer {
 public:
  // Reads and validates a .model file. Throws IoError naming the file when it is malformed
  // or inconsistent (the checks sentencepiece makes when loading).
  static SentencePieceTokenizer load(const std::string& path);
  // `source` names the model in errors.
  static SentencePieceTokenizer from_proto(SpmModelProto proto, const std::string& source);

  std::vector<int> encode(std::string_view text) const;
  // The pieces of encode(text); a run of unknown characters is one piece holding their
  // normalized text (as sentencepiece's out_type=str does).
  std::vector<std::string> encode_pieces(std::string_view text) const;
  // Throws InvalidArgument naming the id when an id is outside the vocabulary.
  std::string decode(const std::vector<int>& ids) const;
  // The normalized text the model segments (SentencePieceProcessor.normalize).
  std::string normalize(std::string_view text) const;

  std::size_t vocab_size() const;
  const std::string& id_to_piece(int id) const;   // throws InvalidArgument when out of range
  int piece_to_id(std::string_view piece) const;  // the unk id when absent (sentencepiece)
  SpmPieceType piece_type(int id) const;          // throws InvalidArgument when out of range
  int unk_id() const;                             // -1 when the model lacks the piece (sentencepiece's rules)
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  const SpmModelProto& proto() const;

 private:
  struct Impl;
  explicit SentencePieceTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;  // immutable once loaded: copies share it, threads may too
};

}  // namespace xling::tokenize
