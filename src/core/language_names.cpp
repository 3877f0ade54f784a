#include "core/language_names.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace xling::core {
namespace {

struct Entry {
  std::string_view two, three, name;  // ISO 639-1 (may be empty), ISO 639-3, English name
};

// Languages of the gettext catalogs, FLORES-200 and the common MT benchmarks.
constexpr std::array<Entry, 96> kLanguages{{
    {"af", "afr", "Afrikaans"},   {"am", "amh", "Amharic"},      {"ar", "arb", "Arabic"},       {"as", "asm", "Assamese"},
    {"ast", "ast", "Asturian"},   {"az", "azj", "Azerbaijani"},  {"be", "bel", "Belarusian"},   {"bg", "bul", "Bulgarian"},
    {"bn", "ben", "Bengali"},     {"bo", "bod", "Tibetan"},      {"br", "bre", "Breton"},       {"bs", "bos", "Bosnian"},
    {"ca", "cat", "Catalan"},     {"cs", "ces", "Czech"},        {"cy", "cym", "Welsh"},        {"da", "dan", "Danish"},
    {"de", "deu", "German"},      {"el", "ell", "Greek"},        {"en", "eng", "English"},      {"eo", "epo", "Esperanto"},
    {"es", "spa", "Spanish"},     {"et", "est", "Estonian"},     {"eu", "eus", "Basque"},       {"fa", "pes", "Persian"},
    {"fi", "fin", "Finnish"},     {"fr", "fra", "French"},       {"ga", "gle", "Irish"},        {"gd", "gla", "Scottish Gaelic"},
    {"gl", "glg", "Galician"},    {"gu", "guj", "Gujarati"},     {"ha", "hau", "Hausa"},        {"he", "heb", "Hebrew"},
    {"hi", "hin", "Hindi"},       {"hr", "hrv", "Croatian"},     {"hu", "hun", "Hungarian"},    {"hy", "hye", "Armenian"},
    {"id", "ind", "Indonesian"},  {"ig", "ibo", "Igbo"},         {"is", "isl", "Icelandic"},    {"it", "ita", "Italian"},
    {"ja", "jpn", "Japanese"},    {"jv", "jav", "Javanese"},     {"ka", "kat", "Georgian"},     {"kk", "kaz", "Kazakh"},
    {"km", "khm", "Khmer"},       {"kn", "kan", "Kannada"},      {"ko", "kor", "Korean"},       {"ku", "kmr", "Kurdish"},
    {"ky", "kir", "Kyrgyz"},      {"lo", "lao", "Lao"},          {"lt", "lit", "Lithuanian"},   {"lv", "lvs", "Latvian"},
    {"mg", "plt", "Malagasy"},    {"mk", "mkd", "Macedonian"},   {"ml", "mal", "Malayalam"},    {"mn", "khk", "Mongolian"},
    {"mr", "mar", "Marathi"},     {"ms", "zsm", "Malay"},        {"mt", "mlt", "Maltese"},      {"my", "mya", "Burmese"},
    {"nb", "nob", "Norwegian Bokmål"}, {"ne", "npi", "Nepali"},   {"nl", "nld", "Dutch"},        {"nn", "nno", "Norwegian Nynorsk"},
    {"oc", "oci", "Occitan"},     {"or", "ory", "Odia"},         {"pa", "pan", "Punjabi"},      {"pl", "pol", "Polish"},
    {"ps", "pbt", "Pashto"},      {"pt", "por", "Portuguese"},   {"ro", "ron", "Romanian"},     {"ru", "rus", "Russian"},
    {"si", "sin", "Sinhala"},     {"sk", "slk", "Slovak"},       {"sl", "slv", "Slovenian"},    {"so", "som", "Somali"},
    {"sq", "als", "Albanian"},    {"sr", "srp", "Serbian"},      {"sv", "swe", "Swedish"},      {"sw", "swh", "Swahili"},
    {"ta", "tam", "Tamil"},       {"te", "tel", "Telugu"},       {"tg", "tgk", "Tajik"},        {"th", "tha", "Thai"},
    {"tk", "tuk", "Turkmen"},     {"tl", "tgl", "Tagalog"},      {"tr", "tur", "Turkish"},      {"ug", "uig", "Uyghur"},
    {"uk", "ukr", "Ukrainian"},   {"ur", "urd", "Urdu"},         {"uz", "uzn", "Uzbek"},        {"vi", "vie", "Vietnamese"},
    {"wo", "wol", "Wolof"},       {"xh", "xho", "Xhosa"},        {"yo", "yor", "Yoruba"},       {"zh", "zho", "Chinese"},
}};

}  // namespace

std::string language_name(std::string_view code) {
  // The primary subtag: up to the first '-', '_' or '@' (de-AT, pt_BR, sr@latin, deu_Latn).
  std::string primary;
  for (char c : code) {
    if (c == '-' || c == '_' || c == '@') break;
    primary += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (primary.empty()) return {};
  for (const auto& e : kLanguages) {
    if (primary == e.two || primary == e.three) return std::string(e.name);
  }
  return {};
}

}  // namespace xling::core
