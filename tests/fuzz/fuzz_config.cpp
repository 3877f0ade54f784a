// libFuzzer target: arbitrary bytes as config.json and generation_config.json.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.hpp"
#include "io/config.hpp"
#include "io/generation_config.hpp"
#include "xling/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json json;
  try {
    json = xling::core::parse_json(text, "fuzz/config.json");
  } catch (const xling::Error&) {
    return 0;
  }
  try {
    auto config = xling::io::parse_config_any(json, "fuzz/config.json");
    (void)config->summary();
  } catch (const xling::Error&) {
  }
  try {
    (void)xling::io::parse_generation_config(json, "fuzz/generation_config.json");
  } catch (const xling::Error&) {
  }
  return 0;
}
