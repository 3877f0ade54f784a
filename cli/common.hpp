// Shared CLI plumbing: command registration, output streams ("-" = stdout, files written
// atomically), and the exit-code contract (docs/cli.md): 0 ok, 1 user error, 2 usage error.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace xling::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUserError = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // called after parsing and global setup
};

using CommandList = std::vector<Command>;

// Each subcommand file provides one of these.
void add_info_command(CLI::App& app, CommandList& commands);
void add_diff_command(CLI::App& app, CommandList& commands);
void add_convert_command(CLI::App& app, CommandList& commands);
void add_tokenize_command(CLI::App& app, CommandList& commands);  // tokenize + decode
void add_score_command(CLI::App& app, CommandList& commands);
void add_eval_command(CLI::App& app, CommandList& commands);
void add_forward_command(CLI::App& app, CommandList& commands);
void add_embed_command(CLI::App& app, CommandList& commands);
void add_classify_command(CLI::App& app, CommandList& commands);
void add_rerank_command(CLI::App& app, CommandList& commands);
void add_tag_command(CLI::App& app, CommandList& commands);
void add_finetune_command(CLI::App& app, CommandList& commands);
void add_average_command(CLI::App& app, CommandList& commands);  // average + merge
void add_data_command(CLI::App& app, CommandList& commands);     // data catalogs (+ hidden data mo)
void add_demo_command(CLI::App& app, CommandList& commands);
void add_mine_command(CLI::App& app, CommandList& commands);
void add_index_command(CLI::App& app, CommandList& commands);  // index build/add/info/merge
void add_search_command(CLI::App& app, CommandList& commands);
void add_select_examples_command(CLI::App& app, CommandList& commands);
void add_generate_command(CLI::App& app, CommandList& commands);
void add_chat_command(CLI::App& app, CommandList& commands);
void add_translate_command(CLI::App& app, CommandList& commands);
void add_serve_command(CLI::App& app, CommandList& commands);

// Text output to stdout ("-") or to a file replaced atomically when commit() is called;
// without commit (an error happened) the target is left untouched.
class TextOutput {
 public:
  explicit TextOutput(std::string path);
  std::ostream& stream();
  void commit();

 private:
  std::string path_;
  std::ostringstream buffer_;
};

// --device and --dtype of the model commands (forward, embed, classify, rerank, tag): one help
// text each; the values are parsed by models::parse_device / parse_compute_dtype.
void add_compute_options(CLI::App* sub, std::string& device, std::string& dtype);

// Validator: the path exists (file or directory); the error names the option and path.
extern const CLI::Validator kExistingPath;

}  // namespace xling::cli
