// sentencepiece-compatible encoding and decoding (see sentencepiece_tokenizer.hpp). Each step
// follows the library: normalizer.cc (Normalize, NormalizePrefix), model_interface.cc
// (InitializePieces, PieceToId, SplitIntoWords), unigram_model.cc (via UnigramModel),
// bpe_model.cc (SampleEncode without dropout) and sentencepiece_processor.cc
// (PopulateSentencePieceText, Decode).
#include "tokenize/sentencepiece_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cstdint>
#include <cstring>
#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "tokenize/charsmap.hpp"
#include "tokenize/unigram.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";              // U+2581
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";          // U+FFFD
constexpr std::string_view kDefaultUnknownSurface = " \xE2\x81\x87 ";  // " U+2047 "

// sentencepiece string_util::OneCharLen: the length the lead byte announces.
inline std::size_t one_char_len(char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<unsigned char>(lead) >> 4];
}

inline bool is_trail_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
inline bool is_valid_codepoint(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

// sentencepiece string_util::IsValidDecodeUTF8 on a non-empty input: whether the first
// character is well-formed UTF-8 (a literal U+FFFD counts as valid) and its length (1 when not).
bool valid_utf8_prefix(std::string_view s, std::size_t* length) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  const std::size_t n = s.size();
  *length = 1;
  if (b0 < 0x80) return true;
  if (n >= 2 && (b0 & 0xE0) == 0xC0) {
    const uint32_t cp = ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(s[1]) & 0x3Fu);
    if (is_trail_byte(s[1]) && cp >= 0x80 && is_valid_codepoint(cp)) {
      *length = 2;
      return true;
    }
  } else if (n >= 3 && (b0 & 0xF0) == 0xE0) {
    const uint32_t cp = ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[1]) & 0x3Fu) << 6) |
                        (static_cast<unsigned char>(s[2]) & 0x3Fu);
    if (is_trail_byte(s[1]) && is_trail_byte(s[2]) && cp >= 0x800 && is_valid_codepoint(cp)) {
      *length = 3;
      return true;
    }
  } else if (n >= 4 && (b0 & 0xF8) == 0xF0) {
    const uint32_t cp = ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(s[1]) & 0x3Fu) << 12) |
                        ((static_cast<unsigned char>(s[2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[3]) & 0x3Fu);
    if (is_trail_byte(s[1]) && is_trail_byte(s[2]) && is_trail_byte(s[3]) && cp >= 0x10000 && is_valid_codepoint(cp)) {
      *length = 4;
      return true;
    }
  }
  return false;
}

std::string byte_piece(unsigned char b) { return fmt::format("<0x{:02X}>", b); }

// sentencepiece PieceToByte: the byte of "<0xXX>" (upper-case hex, two digits), or -1.
int piece_to_byte(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value |= c - 'A' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

// normalizer.cc Normalizer: rewrites the input with the charsmap (longest match), keeps
// user-defined pieces verbatim, squeezes whitespace and escapes it as U+2581.
class SpmNormalizer {
 public:
  SpmNormalizer(const SpmNormalizerSpec& spec, const std::string& source, PieceTrie matcher, bool whitespace_suffix)
      : spec_(spec),
        charsmap_(CharsMap::parse(spec.precompiled_charsmap, source)),
        matcher_(std::move(matcher)),
        whitespace_suffix_(whitespace_suffix) {}

  std::string normalize(std::string_view input) const { return run<false>(input, nullptr); }

  // Also fills norm_to_orig (normalized.size() + 1 entries, or none when the result is empty):
  // for each normalized byte, the original offset of the input rule that produced it, then the
  // end offset; the alignment of normalizer.cc Normalize(input, normalized, norm_to_orig).
  std::string normalize(std::string_view input, std::vector<uint32_t>& norm_to_orig) const {
    return run<true>(input, &norm_to_orig);
  }

 private:
  // One body for both, so that the plain path carries no alignment bookkeeping.
  template <bool kAlign>
  std::string run(std::string_view input, std::vector<uint32_t>* norm_to_orig) const {
    std::string out;
    if constexpr (kAlign) norm_to_orig->clear();
    if (input.empty()) return out;
    uint32_t consumed = 0;  // original bytes read so far (only kept when aligning)
    auto align = [&](std::size_t bytes) {
      if constexpr (kAlign) norm_to_orig->insert(norm_to_orig->end(), bytes, consumed);
    };
    if (spec_.remove_extra_whitespaces) {  // leading whitespace
      while (!input.empty()) {
        const auto [piece, length] = normalize_prefix(input);
        if (piece != " ") break;
        input.remove_prefix(length);
        consumed += static_cast<uint32_t>(length);
      }
    }
    if (input.empty()) return out;

    out.reserve(input.size() * 3);
    if constexpr (kAlign) norm_to_orig->reserve(input.size() * 3 + 1);
    const std::string_view space = spec_.escape_whitespaces ? kSpaceSymbol : std::string_view(" ");
    if (!whitespace_suffix_ && spec_.add_dummy_prefix) {
      out.append(space);
      align(space.size());
    }
    bool is_prev_space = spec_.remove_extra_whitespaces;
    while (!input.empty()) {
      auto [piece, length] = normalize_prefix(input);
      while (is_prev_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
      if (!piece.empty()) {
        for (char c : piece) {
          if (c == ' ' && spec_.escape_whitespaces) {
            out.append(kSpaceSymbol);
            align(kSpaceSymbol.size());
          } else {
            out.push_back(c);
            align(1);
          }
        }
        is_prev_space = piece.back() == ' ';
      }
      input.remove_prefix(length);
      consumed += static_cast<uint32_t>(length);
      if (!spec_.remove_extra_whitespaces) is_prev_space = false;
    }
    if (spec_.remove_extra_whitespaces) {  // trailing whitespace
      while (std::string_view(out).ends_with(space)) {
        out.resize(out.size() - space.size());
        // The text now ends where the removed space's rule began.
        if constexpr (kAlign) {
          consumed = (*norm_to_orig)[out.size()];
          norm_to_orig->resize(out.size());
        }
      }
    }
    if (whitespace_suffix_ && spec_.add_dummy_prefix) {
      out.append(space);
      align(space.size());
    }
    align(1);
    return out;
  }

  // NormalizePrefix: the normalized form of the longest rule matching the start of input and
  // the number of input bytes it consumes (always >= 1 for a non-empty input).
  std::pair<std::string_view, std::size_t> normalize_prefix(std::string_view input) const {
    if (matcher_.num_keys() > 0) {
      const std::size_t n = matcher_.longest_prefix(input, nullptr);
      if (n > 0) return {input.substr(0, n), n};
    }
    std::string_view replacement;
    const std::size_t n = charsmap_.longest_match(input, &replacement);
    if (n > 0) return {replacement, n};
    std::size_t length = 0;
    if (!valid_utf8_prefix(input, &length)) return {kReplacementChar, 1};
    return {input.substr(0, length), length};
  }

  SpmNormalizerSpec spec_;
  CharsMap charsmap_;
  PieceTrie matcher_;  // user-defined pieces
  bool whitespace_suffix_;
};

// One piece of an encoding: normalized[begin, end) or, for byte fallback, a <0xXX> piece
// (which, as in sentencepiece, spans its unknown piece when it is the last of its bytes and is
// empty at the unknown piece's start otherwise).
struct Segment {
  int id;
  uint32_t begin;
  uint32_t end;
  bool is_byte = false;
};

}  // namespace

struct SentencePieceTokenizer::Impl {
  SpmModelProto proto;
  std::string source;
  PieceTrie reserved;  // CONTROL, UNKNOWN, BYTE pieces -> id
  PieceTrie normal;    // NORMAL, USER_DEFINED, UNUSED pieces -> id (not built for Unigram models,
                       // whose UnigramModel answers the lookups)
  PieceTrie user_defined;
  int unk = -1;
  bool has_unused = false;
  std::vector<int> decode_ids;  // PieceToId(IdToPiece(id)), what Decode(ids) looks up
  std::vector<float> scores;
  std::array<int, 256> byte_ids{};  // PieceToId("<0xXX>")
  std::optional<SpmNormalizer> normalizer;
  std::optional<SpmNormalizer> denormalizer;
  std::optional<UnigramModel> unigram;
  std::string unk_surface;

  SpmPieceType type(int id) const { return proto.pieces[static_cast<std::size_t>(id)].type; }

  int piece_to_id(std::string_view piece) const {
    int id = reserved.find(piece);
    if (id >= 0) return id;
    if (unigram) return unigram->id_of(piece).value_or(unk);  // not reserved, so unique and normal
    id = normal.find(piece);
    return id >= 0 ? id : unk;
  }

  // model_interface PrefixMatcher::PrefixMatch: a user-defined piece or one character.
  std::size_t prefix_match(std::string_view text, bool* found) const {
    if (user_defined.num_keys() > 0) {
      const std::size_t n = user_defined.longest_prefix(text, nullptr);
      if (n > 0) {
        *found = true;
        return n;
      }
    }
    *found = false;
    return std::min(text.size(), one_char_len(text[0]));
  }

  void encode_bpe(std::string_view normalized, std::vector<Segment>& out) const;
  void encode_word(std::string_view normalized, std::vector<Segment>& out) const;
  void encode_char(std::string_view normalized, std::vector<Segment>& out) const;
  void append_byte_pieces(const Segment& unknown, std::string_view normalized, std::vector<Segment>& out) const;
  std::vector<Segment> segment(std::string_view normalized) const;
};

// bpe_model.cc SampleEncode (alpha = 0): merge the adjacent pair whose concatenation is the
// highest-scoring piece (leftmost on ties) until none is left; user-defined pieces are frozen.
void SentencePieceTokenizer::Impl::encode_bpe(std::string_view normalized, std::vector<Segment>& out) const {
  struct Symbol {
    int prev;
    int next;
    bool freeze;
    std::string_view piece;
    uint32_t node;  // trie node of `piece`: pair lookups only walk the right symbol's bytes
  };
  // Agenda order: higher score first, then lower left index, packed into one integer key.
  struct Pair {
    uint64_t key;  // order-preserving bits of the score << 32 | ~left
    uint32_t right;
    uint32_t size;
    uint32_t node;
    int left() const { return static_cast<int>(~static_cast<uint32_t>(key)); }
  };
  struct Lower {
    bool operator()(const Pair& a, const Pair& b) const { return a.key < b.key; }
  };
  auto pair_key = [](float score, int left) {
    uint32_t bits;
    score += 0.0f;  // -0 == +0, as the float comparison has it
    std::memcpy(&bits, &score, sizeof(bits));
    bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    return (static_cast<uint64_t>(bits) << 32) | ~static_cast<uint32_t>(left);
  };
  std::vector<Symbol> symbols;
  symbols.reserve(normalized.size());
  std::priority_queue<Pair, std::vector<Pair>, Lower> agenda;
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;

  auto maybe_add_pair = [&](int left, int right) {
    if (left == -1 || right == -1 || symbols[left].freeze || symbols[right].freeze) return;
    if (symbols[left].node == PieceTrie::kNoNode) return;
    const uint32_t node = normal.walk(symbols[left].node, symbols[right].piece);
    if (node == PieceTrie::kNoNode) return;
    const int id = normal.value_at(node);
    if (id < 0) return;
    const std::string_view piece(symbols[left].piece.data(), symbols[left].piece.size() + symbols[right].piece.size());
    agenda.push({pair_key(scores[static_cast<std::size_t>(id)], left), static_cast<uint32_t>(right),
                 static_cast<uint32_t>(piece.size()), node});
    if (type(id) == SpmPieceType::kUnused) rev_merge[piece] = {symbols[left].piece, symbols[right].piece};
  };

  std::string_view rest = normalized;
  int index = 0;
  while (!rest.empty()) {
    Symbol s{};
    const std::size_t mblen = prefix_match(rest, &s.freeze);
    s.piece = rest.substr(0, mblen);
    s.node = normal.walk(PieceTrie::kRoot, s.piece);
    s.prev = index == 0 ? -1 : index - 1;
    rest.remove_prefix(mblen);
    s.next = rest.empty() ? -1 : index + 1;
    ++index;
    symbols.push_back(s);
  }
  if (symbols.empty()) return;
  for (std::size_t i = 1; i < symbols.size(); ++i) maybe_add_pair(static_cast<int>(i - 1), static_cast<int>(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    const int top_left = top.left();
    Symbol& left = symbols[top_left];
    Symbol& right = symbols[top.right];
    // Stale: one side was merged away or grew since the pair was queued.
    if (left.piece.empty() || right.piece.empty() || left.piece.size() + right.piece.size() != top.size) continue;
    left.piece = std::string_view(left.piece.data(), left.piece.size() + right.piece.size());
    left.node = top.node;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top_left;
    right.piece = std::string_view();
    maybe_add_pair(left.prev, top_left);
    maybe_add_pair(top_left, left.next);
  }

  // Pieces of type UNUSED are split back into the pieces they were merged from.
  auto emit = [&](auto&& self, std::string_view w) -> void {
    const int id = piece_to_id(w);
    if (has_unused && type(id) == SpmPieceType::kUnused) {
      const auto it = rev_merge.find(w);
      if (it != rev_merge.end()) {
        self(self, it->second.first);
        self(self, it->second.second);
        return;
      }
    }
    const auto begin = static_cast<uint32_t>(w.data() - normalized.data());
    out.push_back({id, begin, begin + static_cast<uint32_t>(w.size())});
  };
  for (int i = 0; i != -1; i = symbols[i].next) emit(emit, symbols[i].piece);
}

// word_model.cc: SplitIntoWords (a new word at each U+2581), one id per word.
void SentencePieceTokenizer::Impl::encode_word(std::string_view normalized, std::vector<Segment>& out) const {
  std::size_t word_begin = 0;
  for (std::size_t pos = 0; pos < normalized.size();) {
    const std::size_t mblen = std::min(one_char_len(normalized[pos]), normalized.size() - pos);
    if (pos > 0 && normalized.substr(pos, mblen) == kSpaceSymbol) {
      const std::string_view w = normalized.substr(word_begin, pos - word_begin);
      out.push_back({piece_to_id(w), static_cast<uint32_t>(word_begin), static_cast<uint32_t>(pos)});
      word_begin = pos;
    }
    pos += mblen;
  }
  if (word_begin < normalized.size()) {
    const std::string_view w = normalized.substr(word_begin);
    out.push_back({piece_to_id(w), static_cast<uint32_t>(word_begin), static_cast<uint32_t>(normalized.size())});
  }
}

// char_model.cc: one piece per character (or user-defined piece).
void SentencePieceTokenizer::Impl::encode_char(std::string_view normalized, std::vector<Segment>& out) const {
  for (std::size_t pos = 0; pos < normalized.size();) {
    bool found = false;
    const std::size_t n = prefix_match(normalized.substr(pos), &found);
    out.push_back({piece_to_id(normalized.substr(pos, n)), static_cast<uint32_t>(pos), static_cast<uint32_t>(pos + n)});
    pos += n;
  }
}

// PopulateSentencePieceText with byte fallback: an unknown piece becomes the byte pieces of its
// UTF-8; the last one spans the piece, the others are empty at its start.
void SentencePieceTokenizer::Impl::append_byte_pieces(const Segment& unknown, std::string_view normalized,
                                                      std::vector<Segment>& out) const {
  // UnigramModel fuses a run of unknown characters into one piece where sentencepiece's
  // Unigram keeps one per character: split it back, for the offsets.
  const bool per_char = proto.trainer_spec.model_type == SpmModelType::kUnigram;
  for (uint32_t i = unknown.begin; i < unknown.end;) {
    const uint32_t begin = i;
    const uint32_t end =
        per_char ? std::min(unknown.end, i + static_cast<uint32_t>(one_char_len(normalized[i]))) : unknown.end;
    for (; i < end; ++i) {
      const auto b = static_cast<unsigned char>(normalized[i]);
      out.push_back({byte_ids[b], begin, i + 1 == end ? end : begin, /*is_byte=*/true});
    }
  }
}

// SentencePieceProcessor::Encode after normalization: segment, then PopulateSentencePieceText
// (runs of unknown pieces merged into one, or split into byte pieces with byte fallback).
std::vector<Segment> SentencePieceTokenizer::Impl::segment(std::string_view normalized) const {
  std::vector<Segment> raw;
  if (normalized.empty()) return raw;
  if (normalized.size() >= 0x7FFFFFFFu) {
    throw InvalidArgument(
        fmt::format("{}: a text normalized to {} bytes is too long to encode", source, normalized.size()));
  }
  raw.reserve(normalized.size() / 2 + 1);
  switch (proto.trainer_spec.model_type) {
    case SpmModelType::kUnigram: {
      std::vector<UnigramToken> tokens;
      tokens.reserve(normalized.size() / 2 + 1);
      unigram->encode(normalized, tokens);
      for (const auto& t : tokens) raw.push_back({t.id, t.begin, t.end});
      break;
    }
    case SpmModelType::kBpe:
      encode_bpe(normalized, raw);
      break;
    case SpmModelType::kWord:
      encode_word(normalized, raw);
      break;
    case SpmModelType::kChar:
      encode_char(normalized, raw);
      break;
  }

  if (!proto.trainer_spec.byte_fallback) {
    // Runs of unknown pieces merge into one, in place.
    std::size_t n = 0;
    bool prev_unknown = false;
    for (const Segment& s : raw) {
      const bool unknown = type(s.id) == SpmPieceType::kUnknown;
      if (unknown && prev_unknown) {
        raw[n - 1].end = s.end;
      } else {
        raw[n++] = s;
      }
      prev_unknown = unknown;
    }
    raw.resize(n);
    return raw;
  }
  std::vector<Segment> out;
  out.reserve(raw.size());
  for (const Segment& s : raw) {
    if (type(s.id) == SpmPieceType::kUnknown) {
      append_byte_pieces(s, normalized, out);
    } else {
      out.push_back(s);
    }
  }
  return out;
}

SentencePieceTokenizer::SentencePieceTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

SentencePieceTokenizer SentencePieceTokenizer::load(const std::string& path) {
  return from_proto(SpmModelProto::load(path), path);
}

SentencePieceTokenizer SentencePieceTokenizer::from_proto(SpmModelProto proto, const std::string& source) {
  auto impl = std::make_shared<Impl>();
  impl->proto = std::move(proto);
  impl->source = source;
  const auto& pieces = impl->proto.pieces;
  const auto& trainer = impl->proto.trainer_spec;
  auto fail = [&](const std::string& what) {
    throw IoError(fmt::format("{}: invalid sentencepiece model: {}", source, what));
  };
  if (pieces.size() >= static_cast<std::size_t>(INT32_MAX)) fail(fmt::format("{} pieces is too many", pieces.size()));

  // model_interface.cc InitializePieces: the checks sentencepiece makes when loading.
  std::vector<std::pair<std::string_view, int>> reserved, normal, user_defined;
  std::vector<bool> byte_found(256, false);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const SpmPiece& p = pieces[i];
    const int id = static_cast<int>(i);
    if (p.piece.empty()) fail(fmt::format("piece {} is empty", i));
    const bool is_normal =
        p.type == SpmPieceType::kNormal || p.type == SpmPieceType::kUserDefined || p.type == SpmPieceType::kUnused;
    (is_normal ? normal : reserved).emplace_back(p.piece, id);
    if (p.type == SpmPieceType::kUserDefined) user_defined.emplace_back(p.piece, id);
    if (p.type == SpmPieceType::kUnused) impl->has_unused = true;
    if (p.type == SpmPieceType::kUnknown) {
      if (impl->unk >= 0) fail(fmt::format("pieces {} and {} are both of type UNKNOWN", impl->unk, i));
      impl->unk = id;
    }
    if (p.type == SpmPieceType::kByte) {
      if (!trainer.byte_fallback)
        fail(fmt::format("byte piece {} '{}' is found although byte_fallback is false", i, p.piece));
      const int b = piece_to_byte(p.piece);
      if (b < 0) fail(fmt::format("byte piece {} '{}' is not of the form <0xXX>", i, p.piece));
      byte_found[static_cast<std::size_t>(b)] = true;
    }
  }
  for (const auto* group : {&reserved, &normal}) {
    auto sorted = *group;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i].first == sorted[i - 1].first) {
        fail(fmt::format("piece '{}' is defined twice (ids {} and {})", sorted[i].first, sorted[i - 1].second,
                         sorted[i].second));
      }
    }
  }
  impl->reserved = PieceTrie(reserved);
  if (trainer.model_type != SpmModelType::kUnigram) impl->normal = PieceTrie(normal);
  if (impl->unk < 0) fail("no piece of type UNKNOWN");
  if (trainer.byte_fallback && std::find(byte_found.begin(), byte_found.end(), false) != byte_found.end()) {
    fail("byte_fallback is true but the 256 byte pieces <0x00>..<0xFF> are not all present");
  }
  impl->user_defined = PieceTrie(user_defined);

  impl->normalizer.emplace(impl->proto.normalizer_spec, source + " (normalizer_spec)", impl->user_defined,
                           trainer.treat_whitespace_as_suffix);
  const auto& denorm = impl->proto.denormalizer_spec;
  if (denorm && !denorm->precompiled_charsmap.empty()) {
    impl->denormalizer.emplace(*denorm, source + " (denormalizer_spec)", PieceTrie(), /*whitespace_suffix=*/false);
  }
  const std::string& surface = trainer.unk_surface ? *trainer.unk_surface : std::string(kDefaultUnknownSurface);
  impl->unk_surface = surface.substr(0, surface.find('\0'));  // read as a C string by sentencepiece

  if (trainer.model_type == SpmModelType::kUnigram) {
    if (normal.empty()) fail("a Unigram model needs at least one NORMAL, USER_DEFINED or UNUSED piece");
    // unigram_model.cc: min/max over NORMAL pieces (max starts at FLT_MIN); user-defined
    // pieces score length * max - 0.1 so that they win.
    float min_score = FLT_MAX;
    float max_score = FLT_MIN;
    for (const auto& p : pieces) {
      if (p.type == SpmPieceType::kNormal) {
        min_score = std::min(min_score, p.score);
        max_score = std::max(max_score, p.score);
      }
    }
    std::vector<std::string> names;
    std::vector<double> scores;
    std::vector<bool> matchable;
    names.reserve(pieces.size());
    scores.reserve(pieces.size());
    matchable.reserve(pieces.size());
    for (const auto& p : pieces) {
      names.push_back(p.piece);
      if (p.type == SpmPieceType::kUserDefined) {
        scores.push_back(static_cast<double>(static_cast<float>(p.piece.size()) * max_score) - 0.1);
      } else {
        scores.push_back(static_cast<double>(p.score));
      }
      matchable.push_back(p.type == SpmPieceType::kNormal || p.type == SpmPieceType::kUserDefined);
    }
    UnigramOptions options;
    options.unk_id = impl->unk;
    options.byte_fallback = false;  // applied after segmentation, as sentencepiece does
    options.min_score = static_cast<double>(min_score);
    options.float32_path_scores = true;
    impl->unigram.emplace(std::move(names), std::move(scores), std::move(matchable), options);
  }
  for (int b = 0; b < 256; ++b) impl->byte_ids[b] = impl->piece_to_id(byte_piece(static_cast<unsigned char>(b)));
  impl->scores.reserve(pieces.size());
  for (const auto& p : pieces) impl->scores.push_back(p.score);
  impl->decode_ids.resize(pieces.size());
  // PieceToId(IdToPiece(i)): pieces are unique within each group, so only a normal piece that
  // is also reserved maps elsewhere.
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const int r = impl->reserved.find(pieces[i].piece);
    impl->decode_ids[i] = r >= 0 ? r : static_cast<int>(i);
  }

  return SentencePieceTokenizer(std::move(impl));
}

std::vector<int> SentencePieceTokenizer::encode(std::string_view text) const {
  const std::string normalized = impl_->normalizer->normalize(text);
  const std::vector<Segment> segments = impl_->segment(normalized);
  std::vector<int> ids;
  ids.reserve(segments.size());
  for (const auto& s : segments) ids.push_back(s.id);
  return ids;
}

// PopulateSentencePieceText: a piece spans [norm_to_orig[begin], norm_to_orig[end]).
std::vector<SpmToken> SentencePieceTokenizer::encode_with_offsets(std::string_view text) const {
  if (text.size() > UINT32_MAX) {
    throw InvalidArgument(fmt::format("{}: a text of {} bytes is too long for 32-bit offsets", impl_->source,
                                      text.size()));
  }
  std::vector<uint32_t> norm_to_orig;
  const std::string normalized = impl_->normalizer->normalize(text, norm_to_orig);
  const std::vector<Segment> segments = impl_->segment(normalized);
  std::vector<SpmToken> tokens;
  tokens.reserve(segments.size());
  for (const auto& s : segments) tokens.push_back({s.id, norm_to_orig[s.begin], norm_to_orig[s.end]});
  return tokens;
}

std::vector<std::string> SentencePieceTokenizer::encode_pieces(std::string_view text) const {
  const std::string normalized = impl_->normalizer->normalize(text);
  const std::vector<Segment> segments = impl_->segment(normalized);
  std::vector<std::string> pieces;
  pieces.reserve(segments.size());
  for (const auto& s : segments) {
    if (s.is_byte) {
      pieces.push_back(impl_->proto.pieces[static_cast<std::size_t>(s.id)].piece);
    } else {
      pieces.emplace_back(std::string_view(normalized).substr(s.begin, s.end - s.begin));
    }
  }
  return pieces;
}

std::string SentencePieceTokenizer::normalize(std::string_view text) const {
  return impl_->normalizer->normalize(text);
}

// SentencePieceProcessor::Decode: ids -> pieces -> ids again (PieceToId), control pieces
// vanish, <unk> becomes the unknown surface, runs of byte pieces are decoded as UTF-8 (each
// invalid byte -> U+FFFD), U+2581 -> space, and the leading space of the text is dropped.
std::string SentencePieceTokenizer::decode(const std::vector<int>& ids) const {
  const Impl& m = *impl_;
  const auto& pieces = m.proto.pieces;
  std::vector<std::pair<std::string_view, int>> items;  // (piece text, id it decodes as)
  items.reserve(ids.size());
  for (int id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= pieces.size()) {
      throw InvalidArgument(
          fmt::format("{}: cannot decode id {}: the vocabulary has {} pieces", m.source, id, pieces.size()));
    }
    items.emplace_back(pieces[static_cast<std::size_t>(id)].piece, m.decode_ids[static_cast<std::size_t>(id)]);
  }
  return decode_items(items);
}

// SentencePieceProcessor::DecodePieces: as decode, with each piece looked up by PieceToId; a
// piece outside the vocabulary decodes as its own text (only "<unk>" itself gives the surface).
std::string SentencePieceTokenizer::decode_pieces(const std::vector<std::string>& piece_list) const {
  std::vector<std::pair<std::string_view, int>> items;
  items.reserve(piece_list.size());
  for (const auto& p : piece_list) items.emplace_back(p, impl_->piece_to_id(p));
  return decode_items(items);
}

std::string SentencePieceTokenizer::decode_items(const std::vector<std::pair<std::string_view, int>>& items) const {
  const Impl& m = *impl_;
  const auto& pieces = m.proto.pieces;
  const auto& spec = m.proto.normalizer_spec;
  std::string text;
  std::string bytes;  // pending run of byte pieces
  auto flush_bytes = [&]() {
    std::string_view rest = bytes;
    while (!rest.empty()) {
      std::size_t length = 0;
      if (valid_utf8_prefix(rest, &length)) {
        text.append(rest.substr(0, length));
      } else {
        text.append(kReplacementChar);
      }
      rest.remove_prefix(length);
    }
    bytes.clear();
  };

  bool is_bos_ws = true;  // still at the start of the text
  bool bos_ws_seen = false;
  for (const auto& [piece_str, id] : items) {
    const SpmPieceType t = m.type(id);
    if (t == SpmPieceType::kByte) {
      bytes.push_back(static_cast<char>(piece_to_byte(piece_str)));
      continue;
    }
    flush_bytes();
    if (bos_ws_seen || !text.empty()) is_bos_ws = false;
    bos_ws_seen = false;
    if (t == SpmPieceType::kControl) continue;
    if (t == SpmPieceType::kUnknown) {
      text.append(pieces[static_cast<std::size_t>(id)].piece == piece_str ? m.unk_surface : piece_str);
      continue;
    }
    std::string_view piece = piece_str;
    if (is_bos_ws && (spec.add_dummy_prefix || spec.remove_extra_whitespaces)) {
      if (piece.starts_with(kSpaceSymbol)) {
        piece.remove_prefix(kSpaceSymbol.size());
        bos_ws_seen = !spec.remove_extra_whitespaces;
      }
    }
    for (std::size_t pos = 0; pos < piece.size();) {
      if (piece.substr(pos, kSpaceSymbol.size()) == kSpaceSymbol) {
        text.push_back(' ');
        pos += kSpaceSymbol.size();
      } else {
        text.push_back(piece[pos++]);
      }
    }
  }
  flush_bytes();
  if (m.denormalizer) text = m.denormalizer->normalize(text);
  return text;
}

std::size_t SentencePieceTokenizer::vocab_size() const { return impl_->proto.pieces.size(); }

const std::string& SentencePieceTokenizer::id_to_piece(int id) const {
  piece_type(id);  // range check
  return impl_->proto.pieces[static_cast<std::size_t>(id)].piece;
}

int SentencePieceTokenizer::piece_to_id(std::string_view piece) const { return impl_->piece_to_id(piece); }

SpmPieceType SentencePieceTokenizer::piece_type(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->proto.pieces.size()) {
    throw InvalidArgument(
        fmt::format("{}: id {} is outside the vocabulary of {} pieces", impl_->source, id, impl_->proto.pieces.size()));
  }
  return impl_->type(id);
}

int SentencePieceTokenizer::unk_id() const {
  const int id = impl_->piece_to_id(impl_->proto.trainer_spec.unk_piece);
  return impl_->type(id) == SpmPieceType::kUnknown ? id : -1;
}

namespace {
int control_id(const SentencePieceTokenizer& tok, const std::string& piece) {
  const int id = tok.piece_to_id(piece);
  return tok.piece_type(id) == SpmPieceType::kControl ? id : -1;
}
}  // namespace

int SentencePieceTokenizer::bos_id() const { return control_id(*this, impl_->proto.trainer_spec.bos_piece); }
int SentencePieceTokenizer::eos_id() const { return control_id(*this, impl_->proto.trainer_spec.eos_piece); }
int SentencePieceTokenizer::pad_id() const { return control_id(*this, impl_->proto.trainer_spec.pad_piece); }

const SpmModelProto& SentencePieceTokenizer::proto() const { return impl_->proto; }

}  // namespace xling::tokenize
