// Entity-level precision / recall / F1 for IOB-tagged sequences with seqeval 1.2.2
// semantics, in its two modes:
//  - kDefault (seqeval's default, conlleval-compatible): entities come from get_entities'
//    lenient chunking over the sentences joined with an "O" between them. The tag is the
//    label's first character and the type what follows its first '-'; an I- after O or
//    after another type starts an entity, B-/I-/E-/S- are all understood.
//  - kStrictIob2 (mode="strict", scheme=IOB2): an entity is a B-X followed by I-X tokens;
//    an I-X that does not continue a B-X / I-X of the same type is no entity. A label whose
//    first character is not B, I or O throws InvalidArgument (seqeval raises too).
// An entity counts as found when its type, sentence, start and end all match.
// Averages follow seqeval: micro over all entities, macro over types, weighted by true
// support; a zero denominator gives zero_division; F1 = 2PR / (P + R) (0 when P + R = 0).
// One deviation: with no entity at all on either side, seqeval's macro and weighted
// averages are NaN / special-cased (numpy mean of nothing); here macro equals micro
// (zero_division for precision and recall, F1 from them) and weighted follows seqeval.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xling::metrics {

enum class SeqevalMode { kDefault, kStrictIob2 };

using TagSequence = std::vector<std::string>;

struct Entity {
  std::string type;
  int64_t sentence = 0;
  int64_t start = 0;  // token index in the sentence
  int64_t end = 0;    // one past the last token
  bool operator==(const Entity&) const = default;
};

// Entities of each sentence in order of their start.
std::vector<Entity> extract_entities(std::span<const TagSequence> sentences, SeqevalMode mode);

struct EntityScores {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  int64_t support = 0;  // true entities
};

struct EntityTypeScores {
  std::string type;
  EntityScores scores;
};

// seqeval's classification_report: one row per entity type (sorted), then the averages.
struct SeqevalReport {
  std::vector<EntityTypeScores> per_type;
  EntityScores micro;
  EntityScores macro;
  EntityScores weighted;
};

struct SeqevalOptions {
  SeqevalMode mode = SeqevalMode::kDefault;
  double zero_division = 0.0;  // 0.0 or 1.0, as seqeval allows
};

// y_true and y_pred must have the same number of sentences and the same length per
// sentence (InvalidArgument otherwise).
SeqevalReport seqeval_report(std::span<const TagSequence> y_true, std::span<const TagSequence> y_pred,
                             const SeqevalOptions& options = {});

}  // namespace xling::metrics
