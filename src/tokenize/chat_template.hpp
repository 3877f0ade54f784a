// Hugging Face chat templates rendered natively (no Python, no torch): finds a directory's
// template as transformers 5 does and renders conversations byte-exactly as
// tokenizer.apply_chat_template(messages, tokenize=False, ...) with xling's Jinja subset.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenize/jinja_render.hpp"

namespace xling::tokenize {

struct ChatRenderOptions {
  bool add_generation_prompt = false;  // transformers' default
  // Extra template variables (tools, documents, custom kwargs such as enable_thinking). They
  // override the special tokens, as keyword arguments do in transformers.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

class ChatTemplate {
 public:
  // The directory's template: chat_template.jinja, else chat_template.json, else
  // tokenizer_config.json's "chat_template" (a string, or a list of {"name", "template"} from
  // which "default" is taken unless `name` is given; additional_chat_templates/NAME.jinja
  // files are named templates too). Special tokens (bos_token, eos_token, unk_token,
  // sep_token, pad_token, cls_token, mask_token) come from tokenizer_config.json and
  // special_tokens_map.json. Throws InvalidArgument naming the directory when no template is
  // found or `name` is unknown (the message lists the names), jinja::TemplateError for a
  // template outside the supported subset, IoError for unreadable files.
  static ChatTemplate from_directory(const std::string& dir, const std::string& name = "");

  // A template string; `source` names it in error messages (e.g. a file path).
  // `special_tokens`: an object of name -> string variables (bos_token, ...).
  ChatTemplate(std::string_view text, std::string source,
               nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object());

  // `messages`: a JSON array of {"role", "content", ...} objects. Throws jinja::TemplateRaised
  // when the template calls raise_exception (message() is the template's text) and
  // jinja::TemplateError for other template errors; both name the template's source.
  std::string render(const nlohmann::ordered_json& messages, const ChatRenderOptions& opt = {}) const;
  std::string render(const nlohmann::json& messages, const ChatRenderOptions& opt = {}) const;

  const std::string& text() const { return text_; }
  const std::string& source() const { return source_; }
  const nlohmann::ordered_json& special_tokens() const { return special_tokens_; }
  void set_limits(const jinja::RenderLimits& limits) { limits_ = limits; }

 private:
  std::string text_, source_;
  nlohmann::ordered_json special_tokens_;
  std::shared_ptr<const jinja::Template> tmpl_;
  jinja::RenderLimits limits_;
};

}  // namespace xling::tokenize
