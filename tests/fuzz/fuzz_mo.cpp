// libFuzzer target: arbitrary bytes as a GNU .mo catalog, then the charset conversion and
// normalisation its strings go through in `xling data catalogs`.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data/catalogs.hpp"
#include "data/mo_file.hpp"
#include "xling/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  xling::data::MoCatalog cat;
  try {
    cat = xling::data::parse_mo(bytes, "fuzz.mo");
  } catch (const xling::IoError&) {
    return 0;
  }
  std::string en, tr;
  for (const auto& e : cat.entries) {
    if (!xling::data::to_utf8(e.msgid, "utf-8", en) || !xling::data::to_utf8(e.translations.front(), "utf-8", tr)) continue;
    (void)xling::data::normalize_message(en, tr);
    (void)xling::data::normalize_message(tr, en);
  }
  return 0;
}
