// Retrieval tasks in MTEB/BEIR layout: a folder with
//   corpus.jsonl   {"_id", "title"?, "text"} per document (read by the predictor, not here)
//   queries.jsonl  {"_id", "text"} per query
//   qrels.tsv      "query-id<TAB>corpus-id<TAB>score" with a header line (or qrels/test.tsv,
//                  qrels/dev.tsv: the first that exists)
// A suite's retrieval task may name such a folder instead of a JSONL file. Its gold items are
// the judged queries, in queries.jsonl order: {"query_id", "query", "qrels": {doc id: relevance}}.
// Predictions are ranked lists {"ids": [doc ids, best first], "scores": [...]}, scored as MTEB
// does with pytrec_eval (metrics::ranked_list_metric).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace xling::eval {

bool is_mteb_retrieval_dir(const std::string& path);
// Throws IoError / InvalidArgument naming the file and line (missing files, bad lines,
// qrels naming unknown queries are skipped as MTEB skips them; no judged query is an error).
std::vector<nlohmann::json> load_mteb_queries(const std::string& dir);
std::string mteb_corpus_path(const std::string& dir);

}  // namespace xling::eval
