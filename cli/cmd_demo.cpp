// `xling demo`: what xling does, on a fresh machine, with the embedded model and the
// translations the machine carries (gettext catalogs):
//   1. cross-lingual semantic search: queries in several scripts against a pool of held-out
//      catalog strings in many languages;
//   2. zero-shot cross-lingual transfer: fine-tune the model on an English-only task (the kind
//      of a catalog string, data/domain_task.hpp) and evaluate it in 30+ languages;
//   3. an HTML report of both (eval's report) in --output-dir.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "core/atomic_file.hpp"
#include "core/json.hpp"
#include "core/utf8.hpp"
#include "data/catalogs.hpp"
#include "data/domain_task.hpp"
#include "eval/report.hpp"
#include "eval/runner.hpp"
#include "io/model_location.hpp"
#include "models/registry.hpp"
#include "tasks/eval_predictor.hpp"
#include "tasks/sentence_encoder.hpp"
#include "train/trainer.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace xling::cli {
namespace {

struct DemoOptions {
  std::string model, output_dir = "demo-report", locale_dir = "/usr/share/locale";
  std::size_t pool_languages = 30, pool_strings = 40, top_k = 3;
  int epochs = 3;
  uint64_t seed = 0;
  bool quiet = false;
};

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A short display form of a text: at most `width` code points.
std::string clip(const std::string& s, std::size_t width) {
  std::u32string u = core::utf8_to_u32(s);
  if (u.size() <= width) return s;
  std::string out;
  for (std::size_t i = 0; i + 1 < width; ++i) core::append_utf8(out, u[i]);
  return out + "…";
}

// The dominant script family of a text, for picking queries in different scripts.
std::string script_of(const std::string& s) {
  std::map<std::string, int> n;
  for (char32_t c : core::utf8_to_u32(s)) {
    const char* name = nullptr;
    if (c >= 0x0400 && c <= 0x04FF) name = "Cyrillic";
    else if (c >= 0x0370 && c <= 0x03FF) name = "Greek";
    else if (c >= 0x0590 && c <= 0x05FF) name = "Hebrew";
    else if (c >= 0x0600 && c <= 0x06FF) name = "Arabic";
    else if (c >= 0x0900 && c <= 0x097F) name = "Devanagari";
    else if (c >= 0x0980 && c <= 0x09FF) name = "Bengali";
    else if (c >= 0x0B80 && c <= 0x0BFF) name = "Tamil";
    else if (c >= 0x0E00 && c <= 0x0E7F) name = "Thai";
    else if (c >= 0x10A0 && c <= 0x10FF) name = "Georgian";
    else if (c >= 0x3040 && c <= 0x30FF) name = "Kana";
    else if (c >= 0x4E00 && c <= 0x9FFF) name = "Han";
    else if (c >= 0xAC00 && c <= 0xD7AF) name = "Hangul";
    else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0x24F)) name = "Latin";
    if (name) ++n[name];
  }
  if (n.count("Kana")) return "Japanese";
  std::string best;
  int most = 0;
  for (const auto& [k, v] : n) {
    if (v > most) most = v, best = k;
  }
  return best;
}

struct Item {
  std::string lang, en, text;
};

// 1. Cross-lingual search: prints each query's top hits and how many top hits are translations of
// the query's English string.
void search_demo(const DemoOptions& opt, const std::string& model, const data::CatalogCorpus& corpus) {
  // English strings translated into the most test languages; their translations form the pool.
  std::map<std::string, std::vector<Item>> by_en;
  std::map<std::string, std::size_t> lang_size;
  for (const auto& [lang, pairs] : corpus.test) lang_size[lang] = pairs.size();
  std::vector<std::pair<std::size_t, std::string>> langs;
  for (const auto& [l, n] : lang_size) langs.emplace_back(n, l);
  std::sort(langs.begin(), langs.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::set<std::string> pool_langs;
  for (std::size_t i = 0; i < langs.size() && i < opt.pool_languages; ++i) pool_langs.insert(langs[i].second);
  const std::vector<std::string> query_langs = {"ru", "ja", "ar", "hi", "el", "ko", "he", "th", "ka", "zh-Hans", "ta", "bn"};
  for (const auto& [lang, pairs] : corpus.test) {
    const bool wanted = pool_langs.count(lang) || std::find(query_langs.begin(), query_langs.end(), lang) != query_langs.end();
    if (!wanted) continue;
    for (const auto& p : pairs) {
      if (p.en.size() >= 12 && p.en.size() <= 60) by_en[p.en].push_back({lang, p.en, p.text});
    }
  }
  std::vector<std::tuple<std::size_t, uint64_t, std::string>> ranked;
  for (const auto& [en, items] : by_en) {
    ranked.emplace_back(items.size(), data::seeded_hash(en, opt.seed, "demo-search"), en);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) > std::get<0>(b) : std::get<1>(a) < std::get<1>(b);
  });
  if (ranked.size() > opt.pool_strings) ranked.resize(opt.pool_strings);
  // Queries: one per script, each from a different English string; the query text is left out of the pool.
  std::vector<Item> queries;
  std::set<std::string> scripts, used_en;
  for (const auto& ql : query_langs) {
    for (const auto& r : ranked) {
      const auto& en = std::get<2>(r);
      if (used_en.count(en)) continue;
      auto& items = by_en[en];
      auto it = std::find_if(items.begin(), items.end(), [&](const Item& i) { return i.lang == ql; });
      if (it == items.end()) continue;
      std::string sc = script_of(it->text);
      if (sc.empty() || sc == "Latin" || scripts.count(sc)) continue;
      scripts.insert(sc);
      used_en.insert(en);
      queries.push_back(*it);
      break;
    }
    if (queries.size() == 6) break;
  }
  std::vector<Item> pool;
  for (const auto& r : ranked) {
    for (const auto& i : by_en[std::get<2>(r)]) {
      const bool is_query = std::any_of(queries.begin(), queries.end(), [&](const Item& q) { return q.text == i.text && q.lang == i.lang; });
      if (pool_langs.count(i.lang) && !is_query) pool.push_back(i);
    }
  }
  if (queries.empty() || pool.empty()) throw InvalidArgument("the catalogs hold too few translations for the search demo");

  auto enc = tasks::SentenceEncoder::load(model, std::nullopt, /*normalize=*/true);
  std::vector<std::string> texts;
  for (const auto& p : pool) texts.push_back(p.text);
  for (const auto& q : queries) texts.push_back(q.text);
  auto emb = enc.encode(texts, {});
  const auto n = static_cast<int64_t>(pool.size());
  std::size_t correct = 0;
  std::cout << fmt::format("\n== 1. Cross-lingual search: {} queries in {} scripts, a pool of {} strings in {} languages ==\n",
                           queries.size(), scripts.size(), pool.size(), pool_langs.size());
  std::cout << "   (held-out catalog strings: xling-mini never trained on them; ✓ = a translation of the query)\n";
  for (std::size_t qi = 0; qi < queries.size(); ++qi) {
    const auto& q = queries[qi];
    auto s = torch::matmul(emb.slice(0, 0, n), emb[n + static_cast<int64_t>(qi)]);
    auto top = s.topk(static_cast<int64_t>(std::min<std::size_t>(opt.top_k, pool.size())));
    auto vals = std::get<0>(top), idx = std::get<1>(top);
    std::cout << fmt::format("\n  query [{} · {}] {}   (English: \"{}\")\n", q.lang, script_of(q.text), clip(q.text, 50), q.en);
    for (int64_t k = 0; k < idx.size(0); ++k) {
      const auto& hit = pool[static_cast<std::size_t>(idx[k].item<int64_t>())];
      const bool ok = hit.en == q.en;
      if (k == 0 && ok) ++correct;
      std::cout << fmt::format("    {} {:.3f}  [{}] {}\n", ok ? "✓" : " ", vals[k].item<float>(), hit.lang, clip(hit.text, 60));
    }
  }
  std::cout << fmt::format("\n  top hit is a translation of the query: {}/{}\n", correct, queries.size());
}

int run_demo(const DemoOptions& opt) {
  const auto t0 = Clock::now();
  const std::string model = io::resolve_model(opt.model);
  fs::create_directories(opt.output_dir);
  std::cout << fmt::format("xling demo — model {} ({})\n", opt.model.empty() ? io::kDefaultModelName : opt.model, model);

  // The machine's translations: gettext catalogs -> splits by English string (as the model's recipe).
  data::CatalogOptions co;
  co.locale_dir = opt.locale_dir;
  co.progress = !opt.quiet;
  auto t = Clock::now();
  data::CatalogCorpus corpus = data::build_catalog_corpus(co);
  const double catalogs_s = since(t);
  std::cout << fmt::format("read {} gettext catalogs from {}: {} languages, {} held-out test pairs ({:.1f} s)\n",
                           corpus.files.size(), opt.locale_dir, corpus.languages.size(),
                           [&] { std::size_t n = 0; for (const auto& [l, p] : corpus.test) n += p.size(); return n; }(),
                           catalogs_s);

  t = Clock::now();
  search_demo(opt, model, corpus);
  const double search_s = since(t);

  // 2. Zero-shot transfer.
  t = Clock::now();
  data::DomainTaskOptions dopt;
  dopt.seed = opt.seed;
  data::DomainTask task = data::build_domain_task(corpus, dopt);
  const fs::path dir = fs::path(opt.output_dir) / "transfer";
  fs::create_directories(dir / "test");
  auto rows = [](const std::vector<data::LabelledText>& items) {
    std::vector<json> out;
    for (const auto& i : items) out.push_back({{"text", i.text}, {"label", i.label}, {"en", i.en}});
    return out;
  };
  core::write_jsonl_file((dir / "train.jsonl").string(), rows(task.train));
  core::write_jsonl_file((dir / "dev.jsonl").string(), rows(task.dev));
  json suite = {{"name", "xling demo"}, {"tasks", json::array()}};
  json langs = json::object();
  for (const auto& [lang, items] : task.test) {
    core::write_jsonl_file((dir / "test" / (lang + ".jsonl")).string(), rows(items));
    langs[lang] = "test/" + lang + ".jsonl";
  }
  suite["tasks"].push_back({{"name", "catalog-domain zero-shot"}, {"type", "classification"},
                            {"metrics", {"accuracy", "f1_macro"}}, {"languages", langs},
                            {"source_language", "en"}, {"worst_k", 5}});
  core::write_file_atomic((dir / "suite.json").string(), suite.dump(1) + "\n");
  std::cout << fmt::format("\n== 2. Zero-shot cross-lingual transfer: \"what kind of string is this?\" ==\n"
                           "   {} classes ({}); fine-tune on {} English strings, test in {} languages\n",
                           task.labels.size(), fmt::join(task.labels, ", "), task.train.size(), task.test.size() - 1);

  train::TrainOptions to;
  to.task = train::Task::kSeqCls;
  to.model_dir = model;
  to.train_path = (dir / "train.jsonl").string();
  to.eval_paths = {(dir / "dev.jsonl").string()};
  to.output_dir = (dir / "model").string();
  to.epochs = opt.epochs;
  to.batch_size = 32;
  to.lr = 2e-4;
  to.warmup_steps = 10;
  to.max_length = 64;
  to.seed = 42 + opt.seed;
  to.quiet = opt.quiet;
  auto tr = train::finetune(to, [&](const std::string& line) {
    if (!opt.quiet) std::cerr << "  finetune: " << line << "\n";
  });
  const double train_s = since(t);
  double en_dev = tr.evals.empty() ? 0.0 : tr.evals.back().result.metric("accuracy");
  std::cout << fmt::format("   fine-tuned {} updates in {:.1f} s; English dev accuracy {:.1f}\n",
                           tr.steps.size(), tr.train_seconds, 100 * en_dev);

  t = Clock::now();
  eval::SuiteConfig sc = eval::load_suite((dir / "suite.json").string());
  eval::RunOptions ro;
  ro.model_dir = to.output_dir;
  ro.quiet = opt.quiet;
  std::map<std::string, std::vector<json>> predicted;  // language -> predictions, for the agreement below
  auto model_predict = tasks::model_predictor(to.output_dir);
  ro.predict = [&](const eval::TaskConfig& tc, const eval::LanguageFile& lf, const std::vector<json>& gold) {
    return predicted[lf.language] = model_predict(tc, lf, gold);
  };
  ro.save_predictions_dir = (dir / "predictions").string();  // kept for the user
  eval::SuiteResult result = eval::run_suite(sc, ro);
  result.model = fmt::format("{} fine-tuned on English ({})", model, to.output_dir);

  // Agreement with English: a translation's predicted label equals its English original's.
  std::map<std::string, std::string> en_pred;
  {
    const auto& items = task.test.at("en");
    const auto& pred = predicted.at("en");
    for (std::size_t i = 0; i < items.size(); ++i) en_pred[items[i].text] = pred[i]["label"].get<std::string>();
  }
  const auto& m = result.tasks[0].metrics;
  std::cout << fmt::format("\n   {:<10} {:>6} {:>9} {:>9} {:>11}\n", "language", "items", "accuracy", "macro-F1", "agrees w/ en");
  double agree_sum = 0;
  std::size_t agree_langs = 0;
  for (std::size_t li = 0; li < m[0].per_language.size(); ++li) {
    const auto& lang = m[0].per_language[li].language;
    std::string agree = "";
    if (lang != "en") {
      std::size_t same = 0, n = 0;
      const auto& items = task.test.at(lang);
      const auto& pred = predicted.at(lang);
      for (std::size_t i = 0; i < items.size(); ++i) {
        auto it = en_pred.find(items[i].en);
        if (it == en_pred.end()) continue;
        ++n;
        same += pred[i]["label"].get<std::string>() == it->second;
      }
      if (n) {
        agree = fmt::format("{:.1f}", 100.0 * static_cast<double>(same) / static_cast<double>(n));
        agree_sum += static_cast<double>(same) / static_cast<double>(n);
        ++agree_langs;
      }
    }
    std::cout << fmt::format("   {:<10} {:>6} {:>9.1f} {:>9.1f} {:>11}\n", lang, m[0].per_language[li].items,
                             100 * m[0].per_language[li].value, 100 * m[1].per_language[li].value, agree);
  }
  const double eval_s = since(t);
  double acc_sum = 0, f1_sum = 0;
  std::size_t others = 0;
  for (std::size_t li = 0; li < m[0].per_language.size(); ++li) {
    if (m[0].per_language[li].language == "en") continue;
    acc_sum += m[0].per_language[li].value;
    f1_sum += m[1].per_language[li].value;
    ++others;
  }
  if (others) {
    std::cout << fmt::format("\n   mean over the {} translated languages: accuracy {:.1f}, macro-F1 {:.1f}\n", others,
                             100 * acc_sum / static_cast<double>(others), 100 * f1_sum / static_cast<double>(others));
  }
  if (m[0].transfer_gap) std::cout << fmt::format("   transfer gap (English minus the others): {:.1f} points\n", 100 * *m[0].transfer_gap);
  if (agree_langs) {
    std::cout << fmt::format("   consistency (a translation gets its English original's label): {:.1f}% (mean of {} languages)\n",
                             100 * agree_sum / static_cast<double>(agree_langs), agree_langs);
  }
  std::cout << fmt::format("   worst languages: {}\n", fmt::join(m[0].worst, ", "));

  // 3. Report.
  const fs::path out = fs::path(opt.output_dir);
  core::write_file_atomic((out / "results.json").string(), result.to_json().dump(2) + "\n");
  core::write_file_atomic((out / "results.md").string(), eval::render_markdown(result));
  core::write_file_atomic((out / "report.html").string(), eval::render_html(result));
  std::cout << fmt::format("\n== 3. Report: {} ==\n", fs::absolute(out / "report.html").string());
  std::cout << fmt::format("   times: catalogs {:.1f} s, search {:.1f} s, fine-tuning {:.1f} s, evaluation {:.1f} s; total {:.1f} s\n",
                           catalogs_s, search_s, train_s, eval_s, since(t0));
  return kExitOk;
}

}  // namespace

void add_demo_command(CLI::App& app, CommandList& commands) {
  auto opt = std::make_shared<DemoOptions>();
  CLI::App* sub = app.add_subcommand(
      "demo",
      "Show what xling does with the embedded multilingual model (xling-mini) and the translations this machine "
      "carries (gettext catalogs): cross-lingual search with queries in several scripts, zero-shot cross-lingual "
      "transfer of an English-only classifier to 30+ languages, and an HTML report. A few minutes on 2 cores.");
  sub->add_option("--model,-m", opt->model, "Sentence encoder (default: xling-mini)");
  sub->add_option("--output-dir,-o", opt->output_dir, "Where the report and the transfer task's files go")->capture_default_str();
  sub->add_option("--locale-dir", opt->locale_dir, "Where the gettext catalogs are")->capture_default_str();
  sub->add_option("--epochs", opt->epochs, "Fine-tuning epochs of the transfer task")->capture_default_str();
  sub->add_option("--seed", opt->seed, "Changes which strings are sampled")->capture_default_str();
  sub->add_flag("--quiet,-q", opt->quiet, "No progress bars or training log");
  commands.push_back({sub, [opt]() { return run_demo(*opt); }});
}

}  // namespace xling::cli
