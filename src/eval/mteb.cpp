#include "eval/mteb.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "core/json.hpp"
#include "core/utf8.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::eval {
namespace {

std::string qrels_path(const std::string& dir) {
  for (const char* name : {"qrels.tsv", "qrels/test.tsv", "qrels/dev.tsv"}) {
    auto p = fs::path(dir) / name;
    if (fs::is_regular_file(p)) return p.string();
  }
  throw IoError(fmt::format("{}: no qrels.tsv (or qrels/test.tsv) in the MTEB retrieval folder", dir));
}

std::string id_of(const nlohmann::json& j, const std::string& path, std::size_t line) {
  for (const char* key : {"_id", "id"}) {
    if (!j.contains(key)) continue;
    if (j[key].is_string()) return j[key].get<std::string>();
    if (j[key].is_number_integer()) return j[key].dump();
  }
  throw InvalidArgument(fmt::format("{}:{}: no string '_id'", path, line));
}

// Calls f(line, line number) for each non-blank line of `path` (CR of CRLF removed).
template <class F>
void for_each_line(const std::string& path, F&& f) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot open", path));
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    f(line, n);
  }
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> cols;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) cols.push_back(line.substr(start, tab - start));
  cols.push_back(line.substr(start));
  return cols;
}

}  // namespace

bool is_mteb_retrieval_dir(const std::string& path) {
  return fs::is_directory(path) && fs::is_regular_file(fs::path(path) / "queries.jsonl");
}

std::string mteb_corpus_path(const std::string& dir) {
  auto p = fs::path(dir) / "corpus.jsonl";
  if (!fs::is_regular_file(p)) throw IoError(fmt::format("{}: missing corpus.jsonl", dir));
  return p.string();
}

std::vector<nlohmann::json> load_mteb_queries(const std::string& dir) {
  const std::string qpath = (fs::path(dir) / "queries.jsonl").string();
  const std::string rpath = qrels_path(dir);
  // qrels first: only judged queries are evaluated (MTEB keeps queries present in the qrels).
  std::map<std::string, nlohmann::json> qrels;
  for_each_line(rpath, [&](const std::string& line, std::size_t n) {
    auto cols = split_tabs(line);
    if (cols.size() != 3) throw InvalidArgument(fmt::format("{}:{}: expected query-id<TAB>corpus-id<TAB>score", rpath, n));
    double score = 0;
    try {
      std::size_t used = 0;
      score = std::stod(cols[2], &used);
      if (used != cols[2].size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      if (n == 1) return;  // the header line
      throw InvalidArgument(fmt::format("{}:{}: score '{}' is not a number", rpath, n, cols[2]));
    }
    if (score < 0) throw InvalidArgument(fmt::format("{}:{}: negative relevance {}", rpath, n, score));
    auto& q = qrels[cols[0]];
    if (q.is_null()) q = nlohmann::json::object();
    q[cols[1]] = score;
  });
  std::vector<nlohmann::json> out;
  for_each_line(qpath, [&](const std::string& line, std::size_t n) {
    if (auto bad = core::find_invalid_utf8(line); bad != std::string::npos) {
      throw InvalidArgument(fmt::format("{}:{}: invalid UTF-8 at byte {}", qpath, n, bad));
    }
    nlohmann::json j;
    try {
      j = core::parse_json(line, fmt::format("{}:{}", qpath, n));
    } catch (const IoError& e) {
      throw InvalidArgument(e.what());
    }
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      throw InvalidArgument(fmt::format("{}:{}: expected {{\"_id\", \"text\"}}", qpath, n));
    }
    auto id = id_of(j, qpath, n);
    auto it = qrels.find(id);
    if (it == qrels.end()) return;
    out.push_back({{"query_id", id}, {"query", j["text"]}, {"qrels", it->second}});
  });
  if (out.empty()) throw InvalidArgument(fmt::format("{}: no query of queries.jsonl has judgements in {}", dir, rpath));
  return out;
}

}  // namespace xling::eval
