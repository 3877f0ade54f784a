// Catalog corpus builder (see catalogs.hpp for the rules).
#include "data/catalogs.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/progress.hpp"
#include "core/sha256.hpp"
#include "core/utf8.hpp"
#include "data/mo_file.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::data {
namespace {

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
// A letter or digit for accelerator purposes: ASCII alnum or the lead byte of a non-ASCII char.
bool starts_word_char(std::string_view s, std::size_t i) {
  if (i >= s.size()) return false;
  auto c = static_cast<unsigned char>(s[i]);
  return is_ascii_alnum(s[i]) || c >= 0xC0;
}

// Length of an entity or character reference at s[i] == '&' ("&amp;", "&#38;", "&#x26;"), 0 if none.
std::size_t entity_length(std::string_view s, std::size_t i) {
  std::size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    std::size_t start = j;
    while (j < s.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s[j])) : std::isdigit(static_cast<unsigned char>(s[j])))) ++j;
    if (j == start || j >= s.size() || s[j] != ';') return 0;
    return j + 1 - i;
  }
  std::size_t start = j;
  while (j < s.size() && is_ascii_alnum(s[j])) ++j;
  if (j == start || j - start > 10 || j >= s.size() || s[j] != ';') return 0;
  return j + 1 - i;
}

bool is_marker(std::string_view s, std::size_t i) {
  char c = s[i];
  if (c == '&') return entity_length(s, i) == 0;
  return c == '_' || c == '~';
}

const std::vector<std::string_view>& markup_tags() {
  static const std::vector<std::string_view> tags = {
      "a", "abbr", "acronym", "application", "b", "big", "blockquote", "br", "center", "cite", "code", "command",
      "div", "em", "emphasis", "filename", "font", "guibutton", "guilabel", "guimenu", "guimenuitem", "h1", "h2",
      "h3", "h4", "hr", "html", "i", "kbd", "keycap", "li", "link", "literal", "markup", "ol", "p", "pre", "q",
      "quote", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "systemitem", "table", "td", "th",
      "tr", "tt", "u", "ul", "ulink", "var", "xref"};
  return tags;
}

bool is_printf_flag(char c) { return c == '-' || c == '+' || c == '#' || c == '0' || c == '\'' || c == 'I'; }
bool is_printf_conversion(char c) { return std::string_view("diouxXeEfFgGaAcspnCSm").find(c) != std::string_view::npos; }

// Length of a printf-style conversion at s[i] == '%' (not "%%"), 0 if none.
std::size_t printf_length(std::string_view s, std::size_t i) {
  std::size_t j = i + 1;
  auto digits = [&] { while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j; };
  if (j < s.size() && s[j] == '(') {  // Python %(name)s
    auto close = s.find(')', j);
    if (close == std::string_view::npos || close - j > 40) return 0;
    j = close + 1;
  } else {
    std::size_t start = j;
    digits();
    if (j < s.size() && s[j] == '$' && j > start) {
      ++j;
    } else {
      j = start;
    }
  }
  while (j < s.size() && is_printf_flag(s[j])) ++j;
  if (j < s.size() && s[j] == '*') ++j; else digits();
  if (j < s.size() && s[j] == '.') {
    ++j;
    if (j < s.size() && s[j] == '*') ++j; else digits();
  }
  for (std::string_view len : {"hh", "ll", "h", "l", "L", "q", "j", "z", "Z", "t"}) {
    if (s.substr(j, len.size()) == len) {
      j += len.size();
      break;
    }
  }
  if (j < s.size() && is_printf_conversion(s[j])) return j + 1 - i;
  return 0;
}

bool has_letter(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    int n = core::decode_utf8(s, i, cp);
    i += n;
    if (cp < 0x80 ? is_ascii_alnum(static_cast<char>(cp))
                  : !(cp <= 0xBF || (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F))) {
      return true;
    }
  }
  return false;
}

}  // namespace

// ------------------------------------------------------------------ normalisation

std::string strip_accelerators(std::string_view text, std::string_view other) {
  // CJK UIs append the mnemonic in parentheses: "文件(_F)", "開く(&O)...".
  std::string s;
  s.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(' && i + 3 < text.size() && (text[i + 1] == '_' || text[i + 1] == '&' || text[i + 1] == '~') &&
        is_ascii_alnum(text[i + 2]) && text[i + 3] == ')') {
      i += 3;
      continue;
    }
    s += text[i];
  }
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_space(s[i])) {
      out += s[i++];
      continue;
    }
    std::size_t end = i;
    while (end < s.size() && !is_space(s[end])) ++end;
    std::string_view token(s.data() + i, end - i);
    // One marker of its kind in the token, right before a letter or digit, and the token is not
    // copied verbatim on the other side (then it is an identifier like file_name or AT&T).
    std::size_t strip_at = std::string_view::npos;
    for (char kind : {'_', '&', '~'}) {
      std::size_t count = 0, at = std::string_view::npos;
      for (std::size_t k = 0; k < token.size(); ++k) {
        if (token[k] == kind && is_marker(token, k)) {
          ++count;
          at = k;
        }
      }
      if (count == 1 && starts_word_char(token, at + 1) && strip_at == std::string_view::npos) strip_at = at;
    }
    if (strip_at != std::string_view::npos && (other.empty() || other.find(token) == std::string_view::npos)) {
      out.append(token.substr(0, strip_at));
      out.append(token.substr(strip_at + 1));
    } else {
      out.append(token);
    }
    i = end;
  }
  return out;
}

std::string strip_markup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<') {
      std::size_t j = i + 1;
      if (j < text.size() && text[j] == '/') ++j;
      std::size_t name_start = j;
      while (j < text.size() && (is_ascii_alnum(text[j]) || text[j] == ':' || text[j] == '-' || text[j] == '_')) ++j;
      std::string name(text.substr(name_start, j - name_start));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto close = text.find('>', j);
      auto next_open = text.find('<', j);
      bool known = std::find(markup_tags().begin(), markup_tags().end(), name) != markup_tags().end();
      if (known && j < text.size() && (text[j] == '>' || text[j] == '/' || is_space(text[j])) &&
          close != std::string_view::npos && (next_open == std::string_view::npos || next_open > close)) {
        if (name == "br" || name == "p" || name == "li" || name == "div" || name == "tr" || name == "td") out += ' ';
        i = close;
        continue;
      }
    } else if (text[i] == '&') {
      if (std::size_t n = entity_length(text, i)) {
        std::string_view ent = text.substr(i + 1, n - 2);
        char32_t cp = 0;
        if (ent == "amp") cp = '&';
        else if (ent == "lt") cp = '<';
        else if (ent == "gt") cp = '>';
        else if (ent == "quot") cp = '"';
        else if (ent == "apos") cp = '\'';
        else if (ent == "nbsp") cp = 0xA0;
        else if (ent[0] == '#') {
          // entity_length() checked the digits; a value past U+10FFFF (however many digits) is no
          // character, and the text stays as written.
          bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
          uint32_t v = 0;
          for (char c : ent.substr(hex ? 2 : 1)) {
            const uint32_t d = std::isdigit(static_cast<unsigned char>(c)) ? static_cast<uint32_t>(c - '0')
                                                                         : static_cast<uint32_t>(std::tolower(c) - 'a' + 10);
            v = v * (hex ? 16u : 10u) + d;
            if (v > 0x10FFFF) break;
          }
          if (v > 0 && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) cp = static_cast<char32_t>(v);
        }
        if (cp != 0) {
          core::append_utf8(out, cp);
          i += n - 1;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

std::string strip_placeholders(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  // After a placeholder is removed: drop a "0x" prefix before it, and the quotes around it
  // ("%s", «%s», '%s', `%s') so that no empty quote pair is left behind.
  auto removed = [&](std::size_t& i, std::size_t end) {  // s[i, end) was a placeholder
    if (out.size() >= 2 && out.compare(out.size() - 2, 2, "0x") == 0) out.resize(out.size() - 2);
    static const std::pair<std::string_view, std::string_view> quotes[] = {
        {"\"", "\""}, {"'", "'"}, {"`", "'"}, {"\u00ab", "\u00bb"}, {"\u00bb", "\u00ab"}, {"\u201e", "\u201c"},
        {"\u201c", "\u201d"}, {"\u2018", "\u2019"}, {"\u201a", "\u2018"}, {"\u300c", "\u300d"}, {"\u300e", "\u300f"}};
    // French and others put (no-break) spaces inside the quotes: « %s ».
    auto space_len_back = [&](std::size_t n) -> std::size_t {
      if (n >= 1 && out[n - 1] == ' ') return 1;
      if (n >= 2 && out.compare(n - 2, 2, "\u00a0") == 0) return 2;
      if (n >= 3 && out.compare(n - 3, 3, "\u202f") == 0) return 3;
      return 0;
    };
    auto space_len_fwd = [&](std::size_t k) -> std::size_t {
      if (s.substr(k, 1) == " ") return 1;
      if (s.substr(k, 2) == "\u00a0") return 2;
      if (s.substr(k, 3) == "\u202f") return 3;
      return 0;
    };
    std::size_t back = out.size(), fwd = end;
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& [open, close] : quotes) {
        if (back >= open.size() && out.compare(back - open.size(), open.size(), open) == 0 &&
            s.substr(fwd, close.size()) == close) {
          out.resize(back - open.size());
          i = fwd + close.size() - 1;
          return;
        }
      }
      std::size_t b = space_len_back(back), f = space_len_fwd(fwd);
      if (b == 0 || f == 0) break;
      back -= b;
      fwd += f;
    }
    i = end - 1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 1 < s.size() && s[i + 1] == '%') {
        out += '%';
        ++i;
        continue;
      }
      if (std::size_t n = printf_length(s, i)) {
        removed(i, i + n);
        continue;
      }
      std::size_t j = i + 1;  // Qt/KDE %1 .. %99
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) && j - i <= 2) ++j;
      if (j > i + 1) {
        removed(i, j);
        continue;
      }
    } else if (c == '{' || (c == '$' && i + 1 < s.size() && s[i + 1] == '{')) {
      std::size_t j = i + (c == '$' ? 2 : 1);
      while (j < s.size() && (is_ascii_alnum(s[j]) || s[j] == '_' || s[j] == '.' || s[j] == '-')) ++j;
      if (j < s.size() && s[j] == ':' && c == '{') {
        while (j < s.size() && s[j] != '}' && s[j] != '{' && j - i < 30) ++j;
      }
      if (j < s.size() && s[j] == '}') {
        removed(i, j + 1);
        continue;
      }
    }
    out += c;
  }
  return out;
}

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::size_t ws = 0;
    if (is_space(s[i])) ws = 1;
    else if (s.substr(i, 2) == "\xC2\xA0") ws = 2;                                   // U+00A0
    else if (s.substr(i, 3) == "\xE2\x80\xAF" || s.substr(i, 3) == "\xE2\x80\x89") ws = 3;  // U+202F, U+2009
    if (ws) {
      pending = !out.empty();
      i += ws - 1;
      continue;
    }
    if (pending) out += ' ';
    pending = false;
    out += s[i];
  }
  return out;
}

std::string normalize_message(std::string_view text, std::string_view other) {
  return collapse_whitespace(strip_placeholders(strip_markup(strip_accelerators(text, other))));
}

// ------------------------------------------------------------------ locales

bool is_english_locale(std::string_view locale) {
  return locale == "en" || (locale.size() > 2 && locale.substr(0, 2) == "en" &&
                            (locale[2] == '_' || locale[2] == '@' || locale[2] == '.'));
}

std::optional<std::string> locale_to_bcp47(std::string_view locale) {
  std::string_view modifier;
  if (auto at = locale.find('@'); at != std::string_view::npos) {
    modifier = locale.substr(at + 1);
    locale = locale.substr(0, at);
  }
  if (auto dot = locale.find('.'); dot != std::string_view::npos) locale = locale.substr(0, dot);
  std::string_view lang = locale, rest;
  if (auto us = locale.find('_'); us != std::string_view::npos) {
    lang = locale.substr(0, us);
    rest = locale.substr(us + 1);
  }
  if (lang.size() < 2 || lang.size() > 3 || !std::all_of(lang.begin(), lang.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return std::nullopt;
  }
  std::string script, region, variant;
  if (rest.size() == 2 && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    region = rest;
  } else if (rest.size() == 3 && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    region = rest;
  } else if (rest.size() == 4 && rest[0] >= 'A' && rest[0] <= 'Z' && std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    script = rest;
  } else if (!rest.empty()) {
    return std::nullopt;
  }
  std::string mod(modifier);
  for (auto& c : mod) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (mod.empty() || mod == "euro") {
  } else if (mod == "latin" || mod == "latn" || mod == "iqtelif") {
    script = "Latn";
  } else if (mod == "cyrillic" || mod == "cyrl") {
    script = "Cyrl";
  } else if (mod == "devanagari" || mod == "deva") {
    script = "Deva";
  } else if (mod == "arabic" || mod == "arab") {
    script = "Arab";
  } else if (mod == "valencia") {
    variant = "valencia";
  } else if (mod == "ije" || mod == "ijekavian") {
    variant = "ijekavsk";
  } else if (mod == "ijekavianlatin") {
    script = "Latn";
    variant = "ijekavsk";
  } else {
    return std::nullopt;
  }
  if (lang == "zh" && script.empty()) {
    // The region of a Chinese locale mostly says which script it is written in.
    if (region == "CN") { script = "Hans"; region.clear(); }
    else if (region == "SG") { script = "Hans"; }
    else if (region == "TW") { script = "Hant"; region.clear(); }
    else if (region == "HK" || region == "MO") { script = "Hant"; }
  }
  std::string tag(lang);
  if (!script.empty()) tag += "-" + script;
  if (!region.empty()) tag += "-" + region;
  if (!variant.empty()) tag += "-" + variant;
  return tag;
}

// ------------------------------------------------------------------ splits

uint64_t seeded_hash(std::string_view text, uint64_t seed, std::string_view tag) {
  core::Sha256 h;
  h.update(fmt::format("{}:{}:", seed, tag));
  h.update(text);
  auto d = h.digest();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
  return v;
}

Split split_of(std::string_view english, uint64_t seed) {
  uint64_t bucket = seeded_hash(english, seed, "split") % 100;
  return bucket < 80 ? Split::kTrain : bucket < 90 ? Split::kDev : Split::kTest;
}

const char* split_name(Split s) {
  switch (s) {
    case Split::kTrain: return "train";
    case Split::kDev: return "dev";
    case Split::kTest: return "test";
  }
  return "?";
}

// ------------------------------------------------------------------ corpus

std::map<std::string, std::string> read_dpkg_owners(const std::string& dpkg_info_dir, const std::string& prefix) {
  std::map<std::string, std::string> owners;
  std::error_code ec;
  if (!fs::is_directory(dpkg_info_dir, ec)) return owners;  // not a dpkg system: packages stay unknown
  std::vector<fs::path> lists;
  for (const auto& e : fs::directory_iterator(dpkg_info_dir, ec)) {
    if (e.path().extension() == ".list") lists.push_back(e.path());
  }
  std::sort(lists.begin(), lists.end());
  for (const auto& p : lists) {
    std::string pkg = p.stem().string();
    if (auto colon = pkg.find(':'); colon != std::string::npos) pkg.resize(colon);  // libfoo:amd64
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
      if (line.size() > prefix.size() && line.compare(0, prefix.size(), prefix) == 0) owners.emplace(line, pkg);
    }
  }
  return owners;
}

namespace {

struct Candidate {
  std::size_t count = 0;
  std::string domain;  // smallest catalog name that gave this pair
};

std::string dir_error(const std::string& what, const fs::path& p, const std::error_code& ec) {
  return fmt::format("{}: {}: {}", p.string(), what, ec.message());
}

}  // namespace

CatalogCorpus build_catalog_corpus(const CatalogOptions& options) {
  std::error_code ec;
  fs::path root = fs::absolute(options.locale_dir, ec).lexically_normal();
  if (root.has_filename() == false && root.has_parent_path()) root = root.parent_path();
  if (!fs::is_directory(root, ec)) {
    throw IoError(fmt::format("{}: locale directory not found (expected <dir>/<locale>/LC_MESSAGES/*.mo)", options.locale_dir));
  }
  CatalogCorpus corpus;
  // Locales and their files, sorted so that every run reads in the same order.
  struct Job { std::string locale, lang; fs::path path; };
  std::vector<Job> jobs;
  std::vector<fs::path> locales;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.is_directory()) locales.push_back(e.path());
  }
  if (ec) throw IoError(dir_error("cannot list locale directory", root, ec));
  std::sort(locales.begin(), locales.end());
  for (const auto& dir : locales) {
    std::string locale = dir.filename().string();
    fs::path messages = dir / "LC_MESSAGES";
    if (!fs::is_directory(messages, ec)) continue;
    std::vector<fs::path> mos;
    for (const auto& e : fs::directory_iterator(messages, ec)) {
      if (e.path().extension() == ".mo" && e.is_regular_file()) mos.push_back(e.path());
    }
    if (mos.empty()) continue;
    std::sort(mos.begin(), mos.end());
    if (is_english_locale(locale)) {
      corpus.dropped["locale: English variant (files)"] += mos.size();
      continue;
    }
    auto tag = locale_to_bcp47(locale);
    if (!tag) {
      corpus.dropped[fmt::format("locale: no BCP-47 mapping for '{}' (files)", locale)] += mos.size();
      continue;
    }
    for (auto& m : mos) jobs.push_back({locale, *tag, m});
  }
  auto owners = read_dpkg_owners(options.dpkg_info_dir, root.string() + "/");

  // lang -> English -> translation -> candidate
  std::map<std::string, std::unordered_map<std::string, std::map<std::string, Candidate>>> table;
  core::Progress progress("catalogs", jobs.size(), options.progress);
  std::string en, tr;
  for (const auto& job : jobs) {
    progress.advance();
    CatalogFile file;
    file.path = job.path.string();
    file.locale = job.locale;
    file.lang = job.lang;
    file.domain = job.path.stem().string();
    if (auto it = owners.find(file.path); it != owners.end()) file.package = it->second;
    std::ifstream in(job.path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in) {
      file.skipped = "cannot read";
      corpus.dropped["file: cannot read"]++;
      corpus.files.push_back(std::move(file));
      continue;
    }
    std::string bytes = buf.str();
    file.size = bytes.size();
    file.sha256 = core::sha256_hex(bytes);
    MoCatalog cat;
    try {
      cat = parse_mo(bytes, file.path);
    } catch (const IoError& e) {
      file.skipped = e.what();
      corpus.dropped["file: malformed .mo"]++;
      corpus.files.push_back(std::move(file));
      continue;
    }
    file.entries = cat.entries.size();
    if (!charset_supported(cat.charset)) {
      file.skipped = fmt::format("charset {} (not converted)", cat.charset);
      corpus.dropped[fmt::format("file: charset {}", cat.charset)]++;
      corpus.files.push_back(std::move(file));
      continue;
    }
    auto& lang_table = table[job.lang];
    for (const auto& e : cat.entries) {
      if (e.msgid.empty()) continue;  // header
      if (e.is_plural) corpus.dropped["note: plural entry (singular pair kept)"]++;
      const std::string& raw_tr = e.translations.front();
      if (raw_tr.empty()) { corpus.dropped["pair: untranslated"]++; continue; }
      if (!to_utf8(e.msgid, cat.charset, en) || !to_utf8(raw_tr, cat.charset, tr)) {
        corpus.dropped["pair: invalid text in the catalog's charset"]++;
        continue;
      }
      std::string ne = normalize_message(en, tr), nt = normalize_message(tr, en);
      if (ne.empty() || nt.empty()) { corpus.dropped["pair: empty after normalisation"]++; continue; }
      if (!has_letter(ne) || !has_letter(nt)) { corpus.dropped["pair: no letters"]++; continue; }
      if (ne == nt) { corpus.dropped["pair: identical to English"]++; continue; }
      auto& cand = lang_table[ne][nt];
      if (cand.count++ == 0 || file.domain < cand.domain) cand.domain = file.domain;
      ++file.pairs;
    }
    corpus.files.push_back(std::move(file));
  }

  std::unordered_map<std::string, Split> split_cache;
  for (auto& [lang, sources] : table) {
    LanguageCounts counts;
    std::vector<std::pair<std::string, const std::pair<const std::string, Candidate>*>> chosen;  // en -> best
    chosen.reserve(sources.size());
    for (auto& [src, targets] : sources) {
      const std::pair<const std::string, Candidate>* best = nullptr;
      for (const auto& t : targets) {  // std::map: lexicographic order, so ties keep the smallest
        counts.raw += t.second.count;
        if (!best || t.second.count > best->second.count) best = &t;
      }
      if (targets.size() > 1) counts.conflicts++;
      chosen.emplace_back(src, best);
    }
    if (chosen.empty()) {
      corpus.dropped["language: no pairs left"]++;
      continue;
    }
    if (chosen.size() < options.min_pairs) {
      corpus.small_languages.push_back(fmt::format("{} ({})", lang, chosen.size()));
      continue;
    }
    std::sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::pair<uint64_t, CatalogPair>> test;
    for (auto& [src, best] : chosen) {
      auto it = split_cache.find(src);
      if (it == split_cache.end()) it = split_cache.emplace(src, split_of(src, options.seed)).first;
      CatalogPair pair{lang, src, best->first, best->second.domain};
      switch (it->second) {
        case Split::kTrain: corpus.train.push_back(std::move(pair)); counts.train++; break;
        case Split::kDev: corpus.dev.push_back(std::move(pair)); counts.dev++; break;
        case Split::kTest: test.emplace_back(seeded_hash(src, options.seed, "test-cap"), std::move(pair)); break;
      }
    }
    if (test.size() > options.test_cap) {
      // The same hash for every language, so capped test sets keep the same English strings.
      std::sort(test.begin(), test.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second.en < b.second.en;
      });
      counts.test_over_cap = test.size() - options.test_cap;
      test.resize(options.test_cap);
      std::sort(test.begin(), test.end(), [](const auto& a, const auto& b) { return a.second.en < b.second.en; });
    }
    auto& out = corpus.test[lang];
    for (auto& t : test) out.push_back(std::move(t.second));
    counts.test = out.size();
    corpus.languages[lang] = counts;
  }
  return corpus;
}

namespace {

std::string jsonl(const std::vector<CatalogPair>& pairs) {
  std::string out;
  for (const auto& p : pairs) {
    out += nlohmann::json{{"lang", p.lang}, {"en", p.en}, {"text", p.text}, {"domain", p.domain}}.dump();
    out += '\n';
  }
  return out;
}

}  // namespace

void prepare_output_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "test", ec);
  if (ec) throw IoError(dir_error("cannot create output directory", fs::path(dir) / "test", ec));
  for (const auto& d : {fs::path(dir), fs::path(dir) / "test"}) {
    if (::access(d.c_str(), W_OK) != 0) throw IoError(fmt::format("{}: output directory is not writable", d.string()));
  }
}

void write_catalog_corpus(const CatalogCorpus& corpus, const CatalogOptions& options, const std::string& dir) {
  prepare_output_dir(dir);
  core::write_file_atomic((fs::path(dir) / "train.jsonl").string(), jsonl(corpus.train));
  core::write_file_atomic((fs::path(dir) / "dev.jsonl").string(), jsonl(corpus.dev));
  for (const auto& [lang, pairs] : corpus.test) {
    core::write_file_atomic((fs::path(dir) / "test" / (lang + ".jsonl")).string(), jsonl(pairs));
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : corpus.files) {
    nlohmann::json j{{"path", f.path}, {"size", f.size}, {"sha256", f.sha256},
                     {"package", f.package.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.package)},
                     {"locale", f.locale}, {"lang", f.lang}, {"domain", f.domain}, {"entries", f.entries},
                     {"pairs", f.pairs}};
    if (!f.skipped.empty()) j["skipped"] = f.skipped;
    files.push_back(std::move(j));
  }
  nlohmann::json langs = nlohmann::json::object();
  std::size_t train = 0, dev = 0, test = 0;
  for (const auto& [lang, c] : corpus.languages) {
    langs[lang] = {{"train", c.train}, {"dev", c.dev}, {"test", c.test}, {"test_over_cap", c.test_over_cap},
                   {"pairs_before_dedup", c.raw}, {"sources_with_several_translations", c.conflicts}};
    train += c.train; dev += c.dev; test += c.test;
  }
  nlohmann::json manifest{
      {"format", "xling catalog corpus 1"},
      {"options", {{"locale_dir", options.locale_dir}, {"test_cap", options.test_cap}, {"min_pairs", options.min_pairs},
                   {"seed", options.seed},
                   {"split", "bucket = first 8 bytes of sha256('<seed>:split:<normalised English>') mod 100: "
                             "<80 train, <90 dev, else test"}}},
      {"totals", {{"languages", corpus.languages.size()}, {"train", train}, {"dev", dev}, {"test", test},
                  {"files", corpus.files.size()}}},
      {"languages", langs},
      {"left_out_small_languages", corpus.small_languages},
      {"dropped", corpus.dropped},
      {"files", files}};
  core::write_file_atomic((fs::path(dir) / "manifest.json").string(), manifest.dump(1) + "\n");
}

std::string format_catalog_stats(const CatalogCorpus& corpus) {
  std::size_t train = 0, dev = 0, test = 0, big = 0, skipped = 0;
  std::vector<std::pair<std::size_t, std::string>> by_size;
  for (const auto& [lang, c] : corpus.languages) {
    train += c.train; dev += c.dev; test += c.test;
    if (c.total() >= 1000) ++big;
    by_size.emplace_back(c.total(), lang);
  }
  for (const auto& f : corpus.files) skipped += f.skipped.empty() ? 0 : 1;
  std::sort(by_size.begin(), by_size.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::string s;
  s += fmt::format("catalog files   {:>9} read, {} skipped\n", corpus.files.size() - skipped, skipped);
  s += fmt::format("languages       {:>9} ({} with >= 1000 pairs{})\n", corpus.languages.size(), big,
                   corpus.small_languages.empty() ? "" : fmt::format(", {} left out by --min-pairs", corpus.small_languages.size()));
  s += fmt::format("pairs  train    {:>9}\n       dev      {:>9}\n       test     {:>9}\n", train, dev, test);
  auto row = [&](const std::pair<std::size_t, std::string>& p) {
    const auto& c = corpus.languages.at(p.second);
    return fmt::format("  {:<14} {:>8} {:>8} {:>8} {:>8}\n", p.second, c.total(), c.train, c.dev, c.test);
  };
  std::string header = fmt::format("  {:<14} {:>8} {:>8} {:>8} {:>8}\n", "lang", "pairs", "train", "dev", "test");
  std::size_t k = std::min<std::size_t>(10, by_size.size());
  s += "top languages\n" + header;
  for (std::size_t i = 0; i < k; ++i) s += row(by_size[i]);
  s += "bottom languages\n" + header;
  for (std::size_t i = by_size.size() - k; i < by_size.size(); ++i) s += row(by_size[i]);
  s += "dropped\n";
  for (const auto& [reason, n] : corpus.dropped) s += fmt::format("  {:>9}  {}\n", n, reason);
  return s;
}

}  // namespace xling::data
