// Model-backed predictions for `xling eval --model DIR` (eval::Predictor): the suite's tasks are
// run through the model instead of being read from a predictions folder.
//   bitext-mining   sentence encoder: each source's nearest target by cosine -> {"prediction": j}
//   sts             sentence encoder: cosine(sentence1, sentence2) -> {"score"}
//   retrieval       MTEB layout (a folder with corpus/queries/qrels): the corpus embedded into a
//                     temporary exact index (model's document/query prompts) -> {"ids", "scores"},
//                     the top max(k of the task's metrics) documents per query
//   retrieval,      sentence encoder: cosine(query, candidate), positives first then negatives
//   reranking         -> {"scores": [...]}; a *ForSequenceClassification directory scores the
//                     (query, candidate) pairs as a cross-encoder instead (sigmoid of one logit)
//   classification, *ForSequenceClassification: argmax label -> {"label"} (the label's name, or
//   pair-classif.    its index when the gold labels are integers)
// Embeddings are cached by text for the whole run, so an English side shared by many language
// files is encoded once.
#pragma once

#include <string>

#include "eval/runner.hpp"
#include "models/registry.hpp"

namespace xling::tasks {

struct PredictorOptions {
  models::LoadOptions load;      // dtype, device
  std::size_t batch_tokens = 0;  // 0 = the device's default
};

// The model is loaded on first use, as the first task needs it (encoder or classifier).
eval::Predictor model_predictor(const std::string& model_dir, const PredictorOptions& options = {});

}  // namespace xling::tasks
