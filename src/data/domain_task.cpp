// Catalog-domain classification task (see domain_task.hpp).
#include "data/domain_task.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "xling/errors.hpp"

namespace xling::data {

std::optional<std::string> domain_class(std::string_view domain) {
  if (domain.starts_with("iso_639")) return "language name";
  if (domain.starts_with("iso_3166")) return "place name";
  if (domain == "xkeyboard-config") return "keyboard layout";
  if (domain == "shared-mime-info") return "file type";
  static const std::set<std::string_view> programs = {
      "coreutils", "libc", "bash", "tar", "wget", "grep", "sed", "findutils", "diffutils", "dpkg", "apt",
      "libapt-pkg6.0", "shadow", "make", "gnupg2", "git", "binutils", "bfd", "gas", "ld", "gold", "gprof",
      "opcodes", "gettext-tools", "gettext-runtime", "procps-ng", "psmisc", "man-db", "util-linux", "e2fsprogs"};
  if (programs.count(domain)) return "program message";
  return std::nullopt;
}

namespace {

// Items sorted by a seeded hash (a reproducible shuffle), at most `cap` per label.
std::vector<LabelledText> take_per_label(std::vector<LabelledText> items, std::size_t cap, uint64_t seed,
                                         std::string_view tag) {
  std::vector<std::pair<uint64_t, std::size_t>> order;
  for (std::size_t i = 0; i < items.size(); ++i) order.emplace_back(seeded_hash(items[i].text, seed, tag), i);
  std::sort(order.begin(), order.end());
  std::map<std::string, std::size_t> taken;
  std::vector<LabelledText> out;
  for (const auto& [h, i] : order) {
    if (taken[items[i].label]++ < cap) out.push_back(items[i]);
  }
  return out;
}

}  // namespace

DomainTask build_domain_task(const CatalogCorpus& corpus, const DomainTaskOptions& opt) {
  DomainTask task;
  // English string -> classes it appears under (over all splits), to drop ambiguous strings.
  std::map<std::string, std::set<std::string>> classes;
  auto note = [&](const CatalogPair& p) {
    if (auto c = domain_class(p.domain)) classes[p.en].insert(*c);
  };
  for (const auto& p : corpus.train) note(p);
  for (const auto& p : corpus.dev) note(p);
  for (const auto& [lang, pairs] : corpus.test) {
    for (const auto& p : pairs) note(p);
  }
  auto label_of = [&](const std::string& en) -> std::optional<std::string> {
    auto it = classes.find(en);
    if (it == classes.end() || it->second.size() != 1) return std::nullopt;
    return *it->second.begin();
  };
  for (const auto& [en, cs] : classes) task.ambiguous += cs.size() > 1;

  std::set<std::string> seen;
  std::vector<LabelledText> train;
  for (const auto& p : corpus.train) {
    if (auto l = label_of(p.en); l && seen.insert(p.en).second) train.push_back({p.en, *l, p.en});
  }
  task.train = take_per_label(std::move(train), opt.train_per_class, opt.seed, "domain-train");

  // Held-out items per language (dev and test splits), and the English strings among them.
  std::map<std::string, std::vector<LabelledText>> held;
  std::map<std::string, std::set<std::string>> held_seen;
  auto hold = [&](const CatalogPair& p) {
    auto l = label_of(p.en);
    if (!l || !held_seen[p.lang].insert(p.en).second) return;
    held[p.lang].push_back({p.text, *l, p.en});
  };
  for (const auto& p : corpus.dev) hold(p);
  for (const auto& [lang, pairs] : corpus.test) {
    for (const auto& p : pairs) hold(p);
  }
  std::vector<std::pair<std::size_t, std::string>> sizes;
  for (auto& [lang, items] : held) {
    items = take_per_label(std::move(items), opt.test_per_class, opt.seed, "domain-test");
    std::set<std::string> labels;
    for (const auto& i : items) labels.insert(i.label);
    if (items.size() >= opt.min_test_items && labels.size() >= 2) sizes.emplace_back(items.size(), lang);
  }
  std::sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (sizes.size() > opt.max_languages) sizes.resize(opt.max_languages);
  std::set<std::string> english;
  for (const auto& [n, lang] : sizes) {
    task.test[lang] = held[lang];
    for (const auto& i : held[lang]) english.insert(i.en);
  }
  // English test: the English strings of every translated test item, so each translation's
  // prediction can be compared with its English original's (agreement with English).
  std::vector<LabelledText> en_items;
  for (const auto& e : english) en_items.push_back({e, *label_of(e), e});
  std::vector<LabelledText> dev_pool;
  std::set<std::string> dev_seen;
  for (const auto& p : corpus.dev) {
    if (auto l = label_of(p.en); l && !english.count(p.en) && dev_seen.insert(p.en).second) {
      dev_pool.push_back({p.en, *l, p.en});
    }
  }
  task.dev = take_per_label(std::move(dev_pool), opt.dev_per_class, opt.seed, "domain-dev");
  if (!en_items.empty()) task.test["en"] = std::move(en_items);

  std::set<std::string> labels;
  for (const auto& i : task.train) labels.insert(i.label);
  task.labels.assign(labels.begin(), labels.end());
  if (task.labels.size() < 2 || task.test.size() < 2) {
    throw InvalidArgument(fmt::format("the catalogs hold too few labelled strings for the domain task ({} classes, {} "
                                      "test languages)", task.labels.size(), task.test.size()));
  }
  return task;
}

}  // namespace xling::data
