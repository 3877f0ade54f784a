// `xling data catalogs`: English->X parallel data from the gettext catalogs of the machine
// (src/data/catalogs.hpp). `xling data mo FILE` (hidden) dumps one .mo file's raw entries as
// JSONL for the parity harness (tools/parity/checks_data.py).
#include <chrono>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "data/catalogs.hpp"
#include "data/mo_file.hpp"
#include "xling/errors.hpp"

namespace xling::cli {
namespace {

struct CatalogsCli {
  data::CatalogOptions opt;
  std::string output;
  bool quiet = false;
};

int run_catalogs(CatalogsCli& c) {
  auto start = std::chrono::steady_clock::now();
  c.opt.progress = !c.quiet;
  data::prepare_output_dir(c.output);  // fail on a bad --output before reading anything
  data::CatalogCorpus corpus = data::build_catalog_corpus(c.opt);
  data::write_catalog_corpus(corpus, c.opt, c.output);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << data::format_catalog_stats(corpus);
  std::cout << fmt::format("wrote {}/train.jsonl, dev.jsonl, test/<lang>.jsonl, manifest.json in {:.1f} s\n", c.output, secs);
  return kExitOk;
}

int run_mo_dump(const std::string& path) {
  data::MoCatalog cat = data::read_mo(path);
  if (!data::charset_supported(cat.charset)) {
    throw IoError(fmt::format("{}: charset '{}' is not converted to UTF-8 by xling", path, cat.charset));
  }
  std::string buf;
  auto utf8 = [&](const std::string& s) {
    std::string out;
    if (!data::to_utf8(s, cat.charset, out)) {
      throw IoError(fmt::format("{}: a string is not valid {}", path, cat.charset.empty() ? "utf-8" : cat.charset));
    }
    return out;
  };
  for (const auto& e : cat.entries) {
    nlohmann::json forms = nlohmann::json::array();
    for (const auto& t : e.translations) forms.push_back(utf8(t));
    nlohmann::json j{{"context", e.has_context ? nlohmann::json(utf8(e.context)) : nlohmann::json(nullptr)},
                     {"msgid", utf8(e.msgid)},
                     {"msgid_plural", e.is_plural ? nlohmann::json(utf8(e.msgid_plural)) : nlohmann::json(nullptr)},
                     {"msgstr", forms}};
    buf += j.dump() + "\n";
  }
  std::cout << buf;
  return kExitOk;
}

}  // namespace

void add_data_command(CLI::App& app, CommandList& commands) {
  CLI::App* group = app.add_subcommand("data", "Build datasets from what the machine carries (see 'xling data catalogs --help').");
  group->require_subcommand(1);

  auto c = std::make_shared<CatalogsCli>();
  CLI::App* sub = group->add_subcommand(
      "catalogs",
      "English->X parallel pairs from the gettext catalogs (<locale-dir>/<locale>/LC_MESSAGES/*.mo). Locales map to "
      "BCP-47 (sr@latin -> sr-Latn, zh_CN -> zh-Hans, pt_BR -> pt-BR); English variants are skipped. Both sides are "
      "normalised (accelerators _File/&File/~File, markup tags, printf/brace placeholders, whitespace); untranslated "
      "and empty pairs are dropped; each English string keeps its most frequent translation per language. Splits "
      "80/10/10 by a seeded hash of the English string, so a string is in the same split for every language. Writes "
      "train.jsonl, dev.jsonl ({\"lang\",\"en\",\"text\",\"domain\"}), test/<lang>.jsonl and manifest.json (every "
      "file read with size, sha256 and owning Debian package; counts; options) and prints a summary.");
  sub->add_option("--locale-dir", c->opt.locale_dir, "Root of the locale tree")->capture_default_str();
  sub->add_option("--output,-o", c->output, "Output directory (created)")->required();
  sub->add_option("--test-cap", c->opt.test_cap, "Test pairs kept per language (the same English strings for every language where possible)")
      ->capture_default_str();
  sub->add_option("--min-pairs", c->opt.min_pairs, "Leave out languages with fewer deduplicated pairs")->capture_default_str();
  sub->add_option("--seed", c->opt.seed, "Salt of the split and test-cap hashes")->capture_default_str();
  sub->add_option("--dpkg-info", c->opt.dpkg_info_dir, "dpkg's *.list files, to name the package owning each catalog")
      ->capture_default_str();
  sub->add_flag("--quiet,-q", c->quiet, "No progress bar");
  commands.push_back({sub, [c] { return run_catalogs(*c); }});

  auto mo_path = std::make_shared<std::string>();
  CLI::App* mo = group->add_subcommand("mo", "Dump a .mo file's raw entries as JSONL (parity harness)");
  mo->group("");  // hidden
  mo->add_option("file", *mo_path, ".mo file")->required();
  commands.push_back({mo, [mo_path] { return run_mo_dump(*mo_path); }});
}

}  // namespace xling::cli
