// Where `--model` points: a directory as given, or the name of a model that ships with xling
// ("xling-mini", the embedded default) looked up in the model search path:
//   1. $XLING_MODEL_PATH (colon-separated folders holding <name>/)
//   2. <binary>/../share/xling/models     (an installed xling: PREFIX/bin/xling)
//   3. <binary>/../../models              (a build tree: build/bin/xling in the source tree)
//   4. <source tree>/models               (the checkout this binary was built from)
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xling::io {

inline constexpr const char* kDefaultModelName = "xling-mini";

// The folders searched for shipped models, in order (only those that exist).
std::vector<std::string> model_search_dirs();

// The directory of a shipped model, or nullopt when none of the search folders has it.
std::optional<std::string> find_shipped_model(const std::string& name);

// `spec` empty -> the default model; an existing file or directory -> itself; otherwise a
// shipped model's name. Throws IoError naming the value and the folders searched.
std::string resolve_model(const std::string& spec);

}  // namespace xling::io
