// Text processing shared by the sacrebleu-compatible metrics (BLEU, chrF, TER): the BLEU
// tokenizers of sacrebleu 2.6.0 (13a, intl, zh, char, none), the mteval regex passes that
// TER's normalizer reuses, Python `str` semantics the metrics rely on (split/strip on
// Python's whitespace set, str.lower() with its final-sigma rule), and the n-gram match
// counting BLEU and chrF share. Inputs are UTF-8 (the metrics check it with validate_utf8
// first); invalid bytes give unspecified tokens but are never read past.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xling::metrics {

// The sacrebleu release whose behaviour and signatures these metrics reproduce.
inline constexpr std::string_view kSacrebleuVersion = "2.6.0";

enum class BleuTokenizer { k13a, kIntl, kZh, kChar, kNone };

// "13a", "intl", "zh", "char", "none" (sacrebleu's --tokenize names); nullopt otherwise.
std::optional<BleuTokenizer> parse_bleu_tokenizer(std::string_view name);
// The name sacrebleu puts in the signature (`tok:13a`).
std::string_view bleu_tokenizer_name(BleuTokenizer tokenizer);

// sacrebleu's tokenizer(line) for each tokenizer: the returned string is what the Python
// tokenizer returns (BLEU then splits it on whitespace). BLEU applies these to
// `sent.rstrip()` (after optional lowercasing); see bleu_tokenize.
std::string tokenize_13a(std::string_view line);    // Tokenizer13a (mteval-v13a)
std::string tokenize_intl(std::string_view line);   // TokenizerV14International
std::string tokenize_zh(std::string_view line);     // TokenizerZh
std::string tokenize_char(std::string_view line);   // TokenizerChar
std::string tokenize(std::string_view line, BleuTokenizer tokenizer);

// BLEU's _preprocess_segment: optional lowercasing, rstrip, then the tokenizer.
std::string bleu_tokenize(std::string_view sentence, BleuTokenizer tokenizer, bool lowercase);

// The mteval-v13a regex passes (TokenizerRegexp), as re.sub applies them:
//   separate_mteval_symbols:       ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
//   separate_period_comma_dash:    ([^0-9])([\.,]) -> "\1 \2 ", then ([\.,])([^0-9]) -> " \1 \2",
//                                  then ([0-9])(-) -> "\1 \2 "
std::string separate_mteval_symbols(std::string_view s);
std::string separate_period_comma_dash(std::string_view s);

// Python's str.isspace() set (White_Space minus U+180E plus the \x1c-\x1f separators).
bool is_python_space(char32_t c);
// Byte length of the whitespace character starting at s[i], or 0 when it is not one.
std::size_t python_space_length(std::string_view s, std::size_t i);
std::vector<std::string_view> python_split(std::string_view s);  // str.split()
std::string_view python_strip(std::string_view s);               // str.strip()
std::string_view python_rstrip(std::string_view s);              // str.rstrip()
// s.replace(from, to): every non-overlapping occurrence, left to right (also what re.sub
// does with a literal pattern).
void python_replace(std::string& s, std::string_view from, std::string_view to);
// " ".join(s.split())
std::string python_normalize_spaces(std::string_view s);
// Python 3.11's str.lower(): full lowercase mapping (U+0130 -> "i\u0307") and the
// Final_Sigma rule for U+03A3.
std::string python_lower(std::string_view s);

// Throws xling::InvalidArgument naming `what` and the byte offset when `s` is not valid UTF-8.
void validate_utf8(std::string_view s, std::string_view what);
// Checks a corpus in sacrebleu's layout (refs[k][i]: stream k, segment i): at least one
// hypothesis and one reference stream, every stream as long as the hypotheses, valid UTF-8.
// Throws xling::InvalidArgument whose message starts with `metric`.
void validate_corpus(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs,
                     std::string_view metric);
// The same for one hypothesis and its references (at least one).
void validate_sentence(const std::string& hyp, const std::vector<std::string>& refs, std::string_view metric);

// Per-order n-gram statistics of a hypothesis (source 0) against references (sources 1..R).
struct NgramMatches {
  int max_order = 0;
  int num_refs = 0;
  std::vector<int64_t> hyp_total;       // [n-1]: hypothesis n-grams
  std::vector<int64_t> ref_total;       // [(n-1) * R + k]: n-grams of reference k
  std::vector<int64_t> match;           // [(n-1) * R + k]: sum of min(hyp count, ref k count)
  std::vector<int64_t> match_max_ref;   // [n-1]: sum of min(hyp count, max over refs) (BLEU)
};

// Counts n-grams of words or characters in one hypothesis and its references. Reused
// across segments so that its buffers are allocated once.
class NgramMatcher {
 public:
  void clear();
  // Adds one source (the hypothesis first, then each reference). A run uses either words
  // (compared as strings) or characters (code points), never both.
  void add_words(const std::vector<std::string_view>& words);
  void add_chars(const std::u32string& chars);
  void count(int max_order, NgramMatches& out);

 private:
  // Open-addressing table from an n-gram key to a dense id; slots whose stamp differs from
  // stamp_ are empty, so that a new order or segment clears it in O(1).
  uint32_t intern_key(uint64_t key);
  uint32_t intern_word(std::string_view word);
  void reset_table(std::size_t entries);

  std::vector<std::string_view> words_;
  std::vector<uint32_t> units_;
  std::vector<uint32_t> begin_{0};  // source s spans [begin_[s], begin_[s + 1])
  std::vector<uint32_t> ids_, next_ids_;
  std::vector<uint64_t> slot_keys_;
  std::vector<std::string_view> slot_words_;
  std::vector<uint32_t> slot_ids_, slot_stamps_;
  uint32_t stamp_ = 0;
  uint32_t next_id_ = 0;
  std::vector<int64_t> run_counts_;  // [id * sources + source]
};

// Decodes valid UTF-8 into code points.
std::u32string decode_utf8_string(std::string_view s);
void append_utf8(std::string& out, char32_t c);

}  // namespace xling::metrics
