// Chat template discovery and rendering (see chat_template.hpp).
#include "tokenize/chat_template.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/utf8.hpp"
#include "tokenize/jinja_parser.hpp"
#include "xling/errors.hpp"

namespace xling::tokenize {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError(fmt::format("{}: cannot open for reading", p.string()));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw IoError(fmt::format("{}: read error", p.string()));
  return ss.str();
}

nlohmann::ordered_json read_json(const fs::path& p) {
  try {
    return nlohmann::ordered_json::parse(read_file(p));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(fmt::format("{}: not valid JSON: {}", p.string(), e.what()));
  }
}

// Adds a "chat_template" value (a string, or a list of {"name", "template"}) to `out`.
void collect_templates(const nlohmann::ordered_json& v, const std::string& file,
                       std::vector<std::pair<std::string, std::string>>& out) {
  if (v.is_string()) {
    out.emplace_back("default", v.get<std::string>());
    return;
  }
  if (!v.is_array()) {
    throw InvalidArgument(fmt::format("{}: 'chat_template' must be a string or a list of {{\"name\", \"template\"}}, found {}",
                                      file, v.type_name()));
  }
  for (const auto& item : v) {
    if (!item.is_object() || !item.contains("name") || !item.contains("template") || !item["name"].is_string() ||
        !item["template"].is_string()) {
      throw InvalidArgument(fmt::format("{}: each 'chat_template' list item must be {{\"name\": str, \"template\": str}}, found {}",
                                        file, item.dump()));
    }
    out.emplace_back(item["name"].get<std::string>(), item["template"].get<std::string>());
  }
}

const std::pair<std::string, std::string>* find_named(const std::vector<std::pair<std::string, std::string>>& ts,
                                                      const std::string& name) {
  for (const auto& t : ts) {
    if (t.first == name) return &t;
  }
  return nullptr;
}

constexpr const char* kSpecialTokens[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                          "pad_token", "cls_token", "mask_token"};

void read_special_tokens(const nlohmann::ordered_json& cfg, nlohmann::ordered_json& out) {
  if (!cfg.is_object()) return;
  for (const char* key : kSpecialTokens) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) continue;
    if (it->is_string()) out[key] = it->get<std::string>();
    else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) out[key] = (*it)["content"];
  }
}

std::string with_source(const std::string& what, const std::string& source) {
  return fmt::format("{} of the chat template in {}", what, source);
}

}  // namespace

ChatTemplate ChatTemplate::from_directory(const std::string& dir, const std::string& name) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw IoError(fmt::format("{}: not a directory", dir));
  // (name, template) candidates with the file each came from; earlier files win for "default".
  std::vector<std::pair<std::string, std::string>> templates;
  std::vector<std::string> origins;
  auto add_from = [&](std::vector<std::pair<std::string, std::string>> ts, const std::string& file) {
    for (auto& t : ts) {
      if (find_named(templates, t.first)) continue;
      templates.push_back(std::move(t));
      origins.push_back(file);
    }
  };
  nlohmann::ordered_json config;
  const fs::path config_path = root / "tokenizer_config.json";
  if (fs::exists(config_path)) config = read_json(config_path);

  if (fs::path p = root / "chat_template.jinja"; fs::exists(p)) add_from({{"default", read_file(p)}}, p.string());
  if (fs::path p = root / "chat_template.json"; fs::exists(p)) {
    auto j = read_json(p);
    if (!j.is_object() || !j.contains("chat_template")) {
      throw InvalidArgument(fmt::format("{}: expected an object with a 'chat_template' key", p.string()));
    }
    std::vector<std::pair<std::string, std::string>> ts;
    collect_templates(j["chat_template"], p.string(), ts);
    add_from(std::move(ts), p.string());
  }
  if (config.is_object() && config.contains("chat_template") && !config["chat_template"].is_null()) {
    std::vector<std::pair<std::string, std::string>> ts;
    collect_templates(config["chat_template"], config_path.string(), ts);
    add_from(std::move(ts), config_path.string());
  }
  if (fs::path extra = root / "additional_chat_templates"; fs::is_directory(extra)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(extra)) {
      if (e.path().extension() == ".jinja") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) add_from({{f.stem().string(), read_file(f)}}, f.string());
  }

  if (templates.empty()) {
    throw InvalidArgument(fmt::format(
        "{}: no chat template found (looked for chat_template.jinja, chat_template.json and 'chat_template' in "
        "tokenizer_config.json)",
        dir));
  }
  const std::string wanted = name.empty() ? "default" : name;
  const auto* found = find_named(templates, wanted);
  if (!found) {
    std::vector<std::string> names;
    for (const auto& t : templates) names.push_back(t.first);
    std::sort(names.begin(), names.end());
    throw InvalidArgument(fmt::format("{}: {} (available chat templates: {})", dir,
                                      name.empty() ? "several chat templates and none is named 'default'"
                                                   : fmt::format("no chat template named '{}'", name),
                                      fmt::join(names, ", ")));
  }
  const std::string& origin = origins[static_cast<std::size_t>(found - templates.data())];

  nlohmann::ordered_json special = nlohmann::ordered_json::object();
  read_special_tokens(config, special);
  if (fs::path p = root / "special_tokens_map.json"; fs::exists(p)) read_special_tokens(read_json(p), special);
  return ChatTemplate(found->second, origin, std::move(special));
}

ChatTemplate::ChatTemplate(std::string_view text, std::string source, nlohmann::ordered_json special_tokens)
    : text_(text), source_(std::move(source)), special_tokens_(std::move(special_tokens)) {
  if (auto bad = core::find_invalid_utf8(text_); bad != std::string::npos) {
    throw jinja::TemplateError(fmt::format("invalid UTF-8 at byte {} of the chat template in {}", bad, source_));
  }
  try {
    tmpl_ = jinja::parse(text_);
  } catch (const jinja::TemplateError& e) {
    throw jinja::TemplateError(with_source(e.what(), source_));
  }
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatRenderOptions& opt) const {
  if (!messages.is_array()) {
    throw InvalidArgument(fmt::format("chat messages must be a JSON array of {{\"role\", \"content\"}} objects, found {}",
                                      messages.type_name()));
  }
  if (!opt.extra.is_null() && !opt.extra.is_object()) {
    throw InvalidArgument(fmt::format("chat template variables must be a JSON object, found {}", opt.extra.type_name()));
  }
  jinja::Dict vars;
  vars.set("messages", jinja::Value::from_json(messages));
  vars.set("tools", jinja::Value::none());
  vars.set("documents", jinja::Value::none());
  vars.set("add_generation_prompt", jinja::Value::boolean(opt.add_generation_prompt));
  for (const auto& [k, v] : special_tokens_.items()) vars.set(k, jinja::Value::from_json(v));
  if (opt.extra.is_object()) {
    for (const auto& [k, v] : opt.extra.items()) vars.set(k, jinja::Value::from_json(v));
  }
  try {
    return jinja::render(*tmpl_, vars, limits_);
  } catch (const jinja::TemplateRaised& e) {
    throw jinja::TemplateRaised(e.message(), with_source(e.what(), source_));
  } catch (const jinja::TemplateError& e) {
    throw jinja::TemplateError(with_source(e.what(), source_));
  }
}

std::string ChatTemplate::render(const nlohmann::json& messages, const ChatRenderOptions& opt) const {
  return render(nlohmann::ordered_json::parse(messages.dump()), opt);
}

}  // namespace xling::tokenize
