// GNU .mo parser (see mo_file.hpp). All offsets are validated in 64-bit arithmetic before use.
#include "data/mo_file.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/utf8.hpp"
#include "xling/errors.hpp"

namespace xling::data {
namespace {

constexpr uint32_t kMagic = 0x950412deu;
constexpr uint32_t kMagicSwapped = 0xde120495u;
constexpr std::size_t kHeaderSize = 28;

uint32_t load_u32(std::string_view bytes, std::size_t at, bool big_endian) {
  auto b = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
  return big_endian ? (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)
                    : (b(3) << 24) | (b(2) << 16) | (b(1) << 8) | b(0);
}

// The string of table entry `i` of the table at `table`; checks the entry and the string
// (plus its terminating NUL) lie inside the file.
std::string_view table_string(std::string_view bytes, uint64_t table, uint32_t i, bool big_endian,
                              const std::string& name, const char* which) {
  uint64_t entry = table + 8ull * i;
  if (entry + 8 > bytes.size()) {
    throw IoError(fmt::format("{}: truncated .mo file: {} table entry {} at byte {} is past the end ({} bytes)",
                              name, which, i, entry, bytes.size()));
  }
  uint64_t len = load_u32(bytes, entry, big_endian);
  uint64_t off = load_u32(bytes, entry + 4, big_endian);
  if (off + len + 1 > bytes.size()) {
    throw IoError(fmt::format("{}: corrupt .mo file: {} string {} (offset {}, length {}) runs past the end ({} bytes)",
                              name, which, i, off, len, bytes.size()));
  }
  return bytes.substr(off, len);
}

std::vector<std::string> split_nul(std::string_view s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find('\0', start);
    if (pos == std::string_view::npos) {
      parts.emplace_back(s.substr(start));
      return parts;
    }
    parts.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

}  // namespace

MoCatalog parse_mo(std::string_view bytes, const std::string& name) {
  if (bytes.size() < kHeaderSize) {
    throw IoError(fmt::format("{}: not a .mo file: {} bytes, shorter than the 28-byte header", name, bytes.size()));
  }
  MoCatalog cat;
  cat.path = name;
  uint32_t magic = load_u32(bytes, 0, /*big_endian=*/false);
  if (magic == kMagic) {
    cat.big_endian = false;
  } else if (magic == kMagicSwapped) {
    cat.big_endian = true;
  } else {
    throw IoError(fmt::format("{}: not a .mo file: magic 0x{:08x} (expected 0x950412de in either byte order)", name, magic));
  }
  cat.revision = load_u32(bytes, 4, cat.big_endian);
  if ((cat.revision >> 16) > 1) {
    throw IoError(fmt::format("{}: unsupported .mo major revision {} (revision 0x{:08x}; 0 and 1 are known)", name,
                              cat.revision >> 16, cat.revision));
  }
  uint64_t n = load_u32(bytes, 8, cat.big_endian);
  uint64_t orig = load_u32(bytes, 12, cat.big_endian);
  uint64_t trans = load_u32(bytes, 16, cat.big_endian);
  for (auto [table, which] : {std::pair{orig, "original"}, std::pair{trans, "translation"}}) {
    if (table + 8 * n > bytes.size()) {
      throw IoError(fmt::format("{}: corrupt .mo file: {} strings need a {} table of {} bytes at offset {}, past the end ({} bytes)",
                                name, n, which, 8 * n, table, bytes.size()));
    }
  }
  cat.entries.reserve(static_cast<std::size_t>(n));
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view id = table_string(bytes, orig, i, cat.big_endian, name, "original");
    std::string_view str = table_string(bytes, trans, i, cat.big_endian, name, "translation");
    MoEntry e;
    if (auto eot = id.find('\x04'); eot != std::string_view::npos) {
      e.context = std::string(id.substr(0, eot));
      e.has_context = true;
      id.remove_prefix(eot + 1);
    }
    if (auto nul = id.find('\0'); nul != std::string_view::npos) {
      e.is_plural = true;
      e.msgid = std::string(id.substr(0, nul));
      e.msgid_plural = std::string(id.substr(nul + 1));
      e.translations = split_nul(str);
    } else {
      e.msgid = std::string(id);
      e.translations.emplace_back(str);
    }
    if (e.msgid.empty() && !e.has_context && cat.header.empty()) {
      cat.header = e.translations.front();
      cat.charset = header_charset(cat.header);
    }
    cat.entries.push_back(std::move(e));
  }
  return cat;
}

MoCatalog read_mo(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open for reading", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("{}: read error", path));
  return parse_mo(buf.str(), path);
}

std::string header_charset(std::string_view header) {
  std::size_t line_start = 0;
  while (line_start < header.size()) {
    std::size_t line_end = header.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = header.size();
    std::string line = lower(header.substr(line_start, line_end - line_start));
    if (line.rfind("content-type:", 0) == 0) {
      auto pos = line.find("charset=");
      if (pos == std::string::npos) return "";
      std::size_t start = pos + 8, end = start;
      while (end < line.size() && line[end] != ';' && line[end] != ' ' && line[end] != '\t' && line[end] != '\r') ++end;
      return line.substr(start, end - start);
    }
    line_start = line_end + 1;
  }
  return "";
}

bool charset_supported(std::string_view charset) {
  return charset.empty() || charset == "utf-8" || charset == "utf8" || charset == "ascii" || charset == "us-ascii" ||
         charset == "iso-8859-1" || charset == "iso8859-1" || charset == "latin1" || charset == "iso-8859-15" ||
         charset == "iso8859-15" || charset == "latin9";
}

bool to_utf8(std::string_view text, std::string_view charset, std::string& out) {
  out.clear();
  if (charset.empty() || charset == "utf-8" || charset == "utf8") {
    if (core::find_invalid_utf8(text) != std::string_view::npos) return false;
    out.assign(text);
    return true;
  }
  if (charset == "ascii" || charset == "us-ascii") {
    for (char c : text) {
      if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    out.assign(text);
    return true;
  }
  bool latin9 = charset == "iso-8859-15" || charset == "iso8859-15" || charset == "latin9";
  if (!latin9 && charset != "iso-8859-1" && charset != "iso8859-1" && charset != "latin1") return false;
  for (char c : text) {
    char32_t cp = static_cast<unsigned char>(c);
    if (latin9) {  // the eight code points where ISO-8859-15 differs from ISO-8859-1
      switch (cp) {
        case 0xA4: cp = 0x20AC; break;
        case 0xA6: cp = 0x0160; break;
        case 0xA8: cp = 0x0161; break;
        case 0xB4: cp = 0x017D; break;
        case 0xB8: cp = 0x017E; break;
        case 0xBC: cp = 0x0152; break;
        case 0xBD: cp = 0x0153; break;
        case 0xBE: cp = 0x0178; break;
        default: break;
      }
    }
    core::append_utf8(out, cp);
  }
  return true;
}

}  // namespace xling::data
