// A zero-shot cross-lingual transfer task derived from the gettext catalogs (xling demo):
// classify a catalog string by the kind of text it is, the label coming from the catalog it was
// found in (iso_639* -> "language name", iso_3166* -> "place name", xkeyboard-config ->
// "keyboard layout", shared-mime-info -> "file type", GNU command-line programs -> "program
// message"). English strings of the training split train the classifier; held-out strings
// (dev and test splits: never seen by xling-mini's training) in English and in translation
// test it, each translation keeping its English string's label.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/catalogs.hpp"

namespace xling::data {

// The class of a catalog domain, or nullopt for domains outside the task.
std::optional<std::string> domain_class(std::string_view domain);

struct DomainTaskOptions {
  std::size_t train_per_class = 300;    // English training strings per class (fewer when a class has fewer)
  std::size_t dev_per_class = 50;       // English dev strings per class (held out)
  std::size_t test_per_class = 40;      // per language and class
  std::size_t min_test_items = 80;      // languages with fewer labelled held-out items are left out
  std::size_t max_languages = 40;       // the languages with the most labelled held-out items
  uint64_t seed = 0;
};

struct LabelledText {
  std::string text, label, en;  // en: the English string (== text for English)
};

struct DomainTask {
  std::vector<std::string> labels;                          // sorted
  std::vector<LabelledText> train, dev;                     // English
  std::map<std::string, std::vector<LabelledText>> test;    // language -> items ("en" included)
  std::size_t ambiguous = 0;  // English strings found in catalogs of two classes (left out)
};

// Deterministic for a corpus and seed. Throws InvalidArgument when the corpus has no labelled
// strings of at least two classes.
DomainTask build_domain_task(const CatalogCorpus& corpus, const DomainTaskOptions& options);

}  // namespace xling::data
