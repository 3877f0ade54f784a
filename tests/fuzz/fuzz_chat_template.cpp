// libFuzzer target for chat templates (xling's Jinja subset). The input is split at the first
// NUL byte: before it, a template; after it, the messages as JSON (a fixed multilingual
// conversation when that part is empty or not a JSON array). The template is parsed and
// rendered with and without the generation prompt under small output/step limits.
// Any outcome but success or an xling::Error (TemplateError, TemplateRaised, ...) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenize/chat_template.hpp"
#include "xling/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nul = in.find('\0');
  std::string_view tmpl = in.substr(0, nul);
  std::string_view rest = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  nlohmann::ordered_json messages = nlohmann::ordered_json::parse(rest, nullptr, /*allow_exceptions=*/false);
  if (!messages.is_array()) {
    messages = nlohmann::ordered_json::array({{{"role", "system"}, {"content", "Réponds brièvement."}},
                                              {{"role", "user"}, {"content", "नमस्ते {{ x }}"}},
                                              {{"role", "assistant"}, {"content", " 你好 "}},
                                              {{"role", "user"}, {"content", ""}}});
  }
  try {
    xling::tokenize::ChatTemplate t(tmpl, "fuzz", {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
    xling::tokenize::jinja::RenderLimits limits;
    limits.max_output_bytes = 1 << 20;
    limits.max_steps = 200000;
    t.set_limits(limits);
    for (bool gen : {false, true}) {
      xling::tokenize::ChatRenderOptions opt;
      opt.add_generation_prompt = gen;
      opt.extra = {{"tools", nlohmann::ordered_json::array({{{"name", "f"}, {"parameters", {{"x", 1.5}}}}})}};
      (void)t.render(messages, opt);
    }
  } catch (const xling::Error&) {
  }
  return 0;
}
