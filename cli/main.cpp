// xling command-line entry point: global options, subcommand dispatch, and the only place
// (with server/) where library errors become exit codes and messages.
#include <iostream>
#include <new>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/common.hpp"
#include "layers/torch_runtime.hpp"
#include "xling/errors.hpp"
#include "xling/version.hpp"

int main(int argc, char** argv) {
  using namespace xling::cli;
  CLI::App app{
      "xling: run, fine-tune and evaluate multilingual transformer models from Hugging Face checkpoints.\n"
      "Every command takes --help. Exit codes: 0 ok, 1 error in the input (message on stderr), 2 bad usage.",
      "xling"};
  app.set_version_flag("--version", fmt::format("xling {} (libtorch {})", xling::kVersion,
                                                xling::layers::torch_version()));
  app.require_subcommand(1);
  app.fallthrough();
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for tensor math (default: all cores)")
      ->envname("XLING_THREADS")
      ->check(CLI::NonNegativeNumber);

  CommandList commands;
  add_info_command(app, commands);
  add_diff_command(app, commands);
  add_convert_command(app, commands);
  add_tokenize_command(app, commands);
  add_score_command(app, commands);
  add_eval_command(app, commands);
  add_forward_command(app, commands);
  add_embed_command(app, commands);
  add_classify_command(app, commands);
  add_rerank_command(app, commands);
  add_tag_command(app, commands);
  add_finetune_command(app, commands);
  add_average_command(app, commands);
  add_data_command(app, commands);
  add_demo_command(app, commands);
  add_mine_command(app, commands);
  add_index_command(app, commands);
  add_search_command(app, commands);
  add_select_examples_command(app, commands);
  add_generate_command(app, commands);
  add_chat_command(app, commands);
  add_translate_command(app, commands);
#ifdef XLING_HAVE_SERVER
  add_serve_command(app, commands);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = "xling";
    for (const auto* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::cerr << where << ": " << e.what() << "\nRun '" << where << " --help' for usage.\n";
    return kExitUsage;
  }

  try {
    xling::layers::set_threads(threads);
    for (const auto& cmd : commands) {
      if (cmd.app->parsed()) return cmd.run();
    }
    std::cerr << "xling: no command given; run 'xling --help'\n";
    return kExitUsage;
  } catch (const xling::Error& e) {
    std::cerr << "xling: error: " << e.what() << "\n";
    return kExitUserError;
  } catch (const std::bad_alloc&) {
    std::cerr << "xling: error: out of memory\n";
    return kExitUserError;
  } catch (const std::exception& e) {
    std::cerr << "xling: internal error: " << e.what() << "\n";
    return kExitUserError;
  }
}
