// Parallel English->X data from the gettext catalogs a Debian machine carries
// (<locale-dir>/<locale>/LC_MESSAGES/*.mo): locale names mapped to BCP-47, both sides
// normalised (accelerators, markup, placeholders, whitespace), deduplicated per language, and
// split train/dev/test by a seeded hash of the normalised English string, so an English
// sentence lands in the same split for every language and never leaks across splits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xling::data {

// ---- normalisation (each step is public so that it can be tested on its own)

// Removes keyboard accelerators: "(_F)"/"(&F)"/"(~F)" suffixes of CJK UIs, and a '_', '&' or
// '~' directly before a letter or digit when its whitespace-separated token holds no other
// such marker and the token does not appear verbatim in `other` (the other side of the pair:
// identifiers such as file_name or AT&T are copied untranslated, mnemonics are not). '&'
// starting an entity (&amp; &#38; &#x26;) is never an accelerator.
std::string strip_accelerators(std::string_view text, std::string_view other = {});
// Removes Pango/HTML/DocBook markup tags of a fixed list of tag names (<b>, </span>, <a href=..>,
// <br/>, ...) and decodes &amp; &lt; &gt; &quot; &apos; and numeric character references.
// Other angle brackets ("<file>" in usage lines) are text and stay.
std::string strip_markup(std::string_view text);
// Removes format placeholders: printf (%s %d %5.2f %-10.3f %1$s %lu %'d %*d %(name)s), Qt
// (%1), brace ({0} {} {name} {0:.2f}) and shell (${var}); "%%" becomes "%".
std::string strip_placeholders(std::string_view text);
// Collapses runs of whitespace (ASCII and U+00A0) to one space and trims both ends.
std::string collapse_whitespace(std::string_view text);
// All of the above, in the order accelerators, markup, placeholders, whitespace.
std::string normalize_message(std::string_view text, std::string_view other = {});

// ---- locales

// BCP-47 tag of a gettext locale directory name, or nullopt when the locale is not a
// language (e.g. "C") or carries an unknown @modifier. Rules: lang_REGION -> lang-REGION;
// lang_Scrp -> lang-Scrp; zh_CN/zh_SG -> zh-Hans(-SG), zh_TW -> zh-Hant, zh_HK/zh_MO ->
// zh-Hant-HK/MO; @latin/@Latn/@iqtelif -> -Latn, @cyrillic -> -Cyrl, @devanagari -> -Deva,
// @valencia -> -valencia, @ije/@ijekavian -> -ijekavsk; .charset suffixes are ignored.
std::optional<std::string> locale_to_bcp47(std::string_view locale);
// "en", "en_GB", "en@quot", "en@shaw", ...: English variants give English->English pairs.
bool is_english_locale(std::string_view locale);

// ---- building the corpus

enum class Split { kTrain, kDev, kTest };
const char* split_name(Split s);
// Split of a normalised English string: bucket = sha256(seed, text) mod 100; < 80 train,
// < 90 dev, else test.
Split split_of(std::string_view english, uint64_t seed);
// Seeded 64-bit hash of a string (the first 8 bytes of SHA-256 over "seed:tag:text").
uint64_t seeded_hash(std::string_view text, uint64_t seed, std::string_view tag);

struct CatalogOptions {
  std::string locale_dir = "/usr/share/locale";
  std::string dpkg_info_dir = "/var/lib/dpkg/info";  // *.list files: which package owns a file
  std::size_t test_cap = 1000;  // test pairs kept per language (a seeded-hash choice)
  std::size_t min_pairs = 0;    // languages with fewer deduplicated pairs are left out
  uint64_t seed = 0;
  bool progress = true;
};

struct CatalogPair {
  std::string lang, en, text, domain;
};

struct CatalogFile {
  std::string path, locale, lang, domain, package, sha256, skipped;  // skipped: reason, "" if read
  uint64_t size = 0;
  std::size_t entries = 0, pairs = 0;  // messages in the file; pairs kept before dedup
};

struct LanguageCounts {
  std::size_t train = 0, dev = 0, test = 0, test_over_cap = 0, raw = 0, conflicts = 0;
  std::size_t total() const { return train + dev + test; }
};

struct CatalogCorpus {
  std::vector<CatalogPair> train, dev;
  std::map<std::string, std::vector<CatalogPair>> test;  // per language
  std::vector<CatalogFile> files;
  std::map<std::string, LanguageCounts> languages;        // kept languages only
  std::map<std::string, std::size_t> dropped;            // reason -> count (pairs, files, locales)
  std::vector<std::string> small_languages;               // left out by min_pairs
};

// Walks options.locale_dir; IoError when it is missing or unreadable.
CatalogCorpus build_catalog_corpus(const CatalogOptions& options);
// Creates `dir` and dir/test and checks they are writable (IoError otherwise), so that a bad
// --output fails before the corpus is built.
void prepare_output_dir(const std::string& dir);
// train.jsonl, dev.jsonl, test/<lang>.jsonl, manifest.json under `dir` (created).
void write_catalog_corpus(const CatalogCorpus& corpus, const CatalogOptions& options, const std::string& dir);
// Human-readable summary table.
std::string format_catalog_stats(const CatalogCorpus& corpus);

// Debian package owning each file listed in `dpkg_info_dir`/*.list under `prefix`.
std::map<std::string, std::string> read_dpkg_owners(const std::string& dpkg_info_dir, const std::string& prefix);

}  // namespace xling::data
