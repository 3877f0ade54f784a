// GNU gettext .mo catalogs (compiled message catalogs), parsed from the format description in
// the gettext manual ("The Format of GNU MO Files"): a 28-byte header (magic 0x950412de in
// the writer's byte order, revision, N, offsets of the original and translation tables), two
// tables of N (length, offset) pairs, and NUL-terminated strings. Every bound is checked:
// truncated or hostile files raise IoError naming the file, never read out of range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xling::data {

// One message. A context (msgctxt) is stored in the file as context + '\x04' + msgid; a
// plural entry as msgid '\0' msgid_plural with its forms '\0'-separated in the translation.
struct MoEntry {
  std::string context;                    // empty when the entry has none
  bool has_context = false;               // distinguishes an empty context from none
  std::string msgid;                      // the (singular) English source
  std::string msgid_plural;               // empty unless is_plural
  bool is_plural = false;
  std::vector<std::string> translations;  // one per plural form; exactly one otherwise
};

struct MoCatalog {
  std::string path;
  bool big_endian = false;
  uint32_t revision = 0;
  std::string header;   // translation of the empty msgid ("Content-Type: ...", ...)
  std::string charset;  // lower-cased charset of the header's Content-Type; "" when absent
  std::vector<MoEntry> entries;  // in file order (sorted by msgid), header entry included
};

// Parses the bytes of a .mo file; `name` is used in error messages. Strings are returned as
// stored (no charset conversion; see to_utf8).
MoCatalog parse_mo(std::string_view bytes, const std::string& name);
// Reads and parses a file; IoError when it cannot be read or is malformed.
MoCatalog read_mo(const std::string& path);

// The charset of a header's "Content-Type: text/plain; charset=X" line, lower-cased; "" if none.
std::string header_charset(std::string_view header);

// Whether text in `charset` can be converted to UTF-8 here: UTF-8, ASCII, ISO-8859-1 and
// ISO-8859-15 (an empty charset counts as UTF-8, the gettext tools' default output).
bool charset_supported(std::string_view charset);
// Converts `text` from a supported charset to UTF-8. Returns false when the bytes are not
// valid in that charset (invalid UTF-8, bytes >= 0x80 in ASCII); `out` is then unspecified.
bool to_utf8(std::string_view text, std::string_view charset, std::string& out);

}  // namespace xling::data
