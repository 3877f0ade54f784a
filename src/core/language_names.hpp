// English names of languages for prompts (`xling translate --model LLM`: "German: ..."):
// a BCP-47 tag's primary subtag (de, de-AT, pt_BR, zh-Hans) or an ISO 639-3 / NLLB-style code
// (deu, deu_Latn). Unknown codes give an empty string (callers fall back to the code itself).
#pragma once

#include <string>
#include <string_view>

namespace xling::core {

std::string language_name(std::string_view code);

}  // namespace xling::core
