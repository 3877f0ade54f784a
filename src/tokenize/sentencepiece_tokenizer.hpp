// SentencePieceTokenizer: encodes and decodes with a sentencepiece .model file exactly like
// sentencepiece.SentencePieceProcessor(model_file=...).encode(text) / decode(ids) with default
// options: the spm normalizer (precompiled charsmap, whitespace rules, U+2581 escaping,
// user-defined pieces kept verbatim), then the Unigram, BPE, word or char model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenize/sentencepiece_model.hpp"

namespace xling::tokenize {

// One piece of encode_with_offsets: its id and the UTF-8 byte span [begin, end) of the
// ORIGINAL text it came from, as sentencepiece's SentencePieceText reports piece.begin/end.
struct SpmToken {
  int id;
  uint32_t begin;
  uint32_t end;
};

class SentencePieceTokenizer {
 public:
  // Reads and validates a .model file. Throws IoError naming the file when it is malformed
  // or inconsistent (the checks sentencepiece makes when loading).
  static SentencePieceTokenizer load(const std::string& path);
  // `source` names the model in errors.
  static SentencePieceTokenizer from_proto(SpmModelProto proto, const std::string& source);

  std::vector<int> encode(std::string_view text) const;
  // The ids of encode(text) with their spans in `text`, tracked through the normalizer exactly
  // as sentencepiece does, surprises included: the dummy prefix sits at the first kept
  // character (a lone dummy "\u2581" piece has an empty span); a collapsed whitespace run sits
  // at its first character; whitespace the normalizer drops at either end is in no span; a
  // piece ending inside the output of one charsmap rule (the "f" of "fi" from U+FB01) ends
  // where that rule's input begins; byte-fallback pieces are empty at the start of their
  // unknown piece except the last, which spans it. Consecutive spans always chain
  // (begin == previous end). Throws InvalidArgument when text has 2^32 bytes or more.
  std::vector<SpmToken> encode_with_offsets(std::string_view text) const;
  // The pieces of encode(text); a run of unknown characters is one piece holding their
  // normalized text (as sentencepiece's out_type=str does).
  std::vector<std::string> encode_pieces(std::string_view text) const;
  // Throws InvalidArgument naming the id when an id is outside the vocabulary.
  std::string decode(const std::vector<int>& ids) const;
  // SentencePieceProcessor.decode(pieces) (DecodePieces): a piece outside the vocabulary
  // decodes as its own text; the rest as decode does.
  std::string decode_pieces(const std::vector<std::string>& pieces) const;
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
  std::string decode_items(const std::vector<std::pair<std::string_view, int>>& items) const;
  std::shared_ptr<const Impl> impl_;  // immutable once loaded: copies share it, threads may too
};

}  // namespace xling::tokenize
