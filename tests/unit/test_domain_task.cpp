// The demo's zero-shot task derived from catalog domains: labels from domains, ambiguous
// strings dropped, English training strings from the train split only, held-out items keep
// their English string's label, per-class caps and the language choice.
#include <set>

#include <gtest/gtest.h>

#include "data/domain_task.hpp"
#include "xling/errors.hpp"

using namespace xling::data;

namespace {

CatalogCorpus corpus() {
  CatalogCorpus c;
  for (int i = 0; i < 30; ++i) {
    c.train.push_back({"fr", "Lang " + std::to_string(i), "Langue " + std::to_string(i), "iso_639-3"});
    c.train.push_back({"de", "Err " + std::to_string(i), "Fehler " + std::to_string(i), "coreutils"});
  }
  c.train.push_back({"fr", "Both", "Les deux", "iso_3166"});      // ambiguous: two classes
  c.train.push_back({"fr", "Both", "Les deux", "coreutils"});
  c.train.push_back({"fr", "Ignored", "Ignoré", "gtk30"});        // not a task domain
  for (int i = 0; i < 12; ++i) {
    for (const char* lang : {"fr", "de", "ja"}) {
      c.dev.push_back({lang, "Held lang " + std::to_string(i), std::string(lang) + " langue " + std::to_string(i), "iso_639"});
      c.test[lang].push_back({lang, "Held err " + std::to_string(i), std::string(lang) + " erreur " + std::to_string(i), "tar"});
    }
  }
  c.test["sw"].push_back({"sw", "Held err 0", "kosa 0", "tar"});  // too few items: left out
  return c;
}

}  // namespace

TEST(DomainTask, ClassesFromDomains) {
  EXPECT_EQ(domain_class("iso_639-3"), "language name");
  EXPECT_EQ(domain_class("iso_3166-2"), "place name");
  EXPECT_EQ(domain_class("coreutils"), "program message");
  EXPECT_EQ(domain_class("shared-mime-info"), "file type");
  EXPECT_FALSE(domain_class("gtk30").has_value());
}

TEST(DomainTask, SplitsLabelsAndCaps) {
  DomainTaskOptions o;
  o.train_per_class = 20;
  o.test_per_class = 5;
  o.min_test_items = 8;
  DomainTask t = build_domain_task(corpus(), o);
  EXPECT_EQ(t.labels, (std::vector<std::string>{"language name", "program message"}));
  EXPECT_EQ(t.train.size(), 40u);  // 20 per class, "Both" and "Ignored" left out
  EXPECT_EQ(t.ambiguous, 1u);
  for (const auto& i : t.train) {
    EXPECT_NE(i.text, "Both");
    EXPECT_EQ(i.text.rfind("Held", 0), std::string::npos) << "held-out strings never train";
  }
  EXPECT_EQ(t.test.count("sw"), 0u);
  ASSERT_EQ(t.test.count("ja"), 1u);
  EXPECT_EQ(t.test.at("ja").size(), 10u);  // 5 per class
  for (const auto& i : t.test.at("ja")) {
    EXPECT_EQ(i.label, i.en.rfind("Held lang", 0) == 0 ? "language name" : "program message");
  }
  // English holds each translated item's English string, labelled alike.
  std::set<std::string> en;
  for (const auto& i : t.test.at("en")) en.insert(i.text);
  for (const auto& [lang, items] : t.test) {
    for (const auto& i : items) EXPECT_TRUE(en.count(i.en)) << lang << " " << i.en;
  }
  // Deterministic.
  DomainTask again = build_domain_task(corpus(), o);
  ASSERT_EQ(again.test.at("fr").size(), t.test.at("fr").size());
  for (std::size_t k = 0; k < t.test.at("fr").size(); ++k) EXPECT_EQ(again.test.at("fr")[k].text, t.test.at("fr")[k].text);
}

TEST(DomainTask, TooLittleDataIsAClearError) {
  CatalogCorpus c;
  c.train.push_back({"fr", "A", "B", "coreutils"});
  EXPECT_THROW(build_domain_task(c, {}), xling::InvalidArgument);
}
