// libFuzzer target: arbitrary bytes as the corpus and query files users hand to `xling index
// build` / `xling search` (index/corpus_reader.hpp, .jsonl and .txt) and as an MTEB retrieval
// folder (eval/mteb.hpp: queries.jsonl + qrels.tsv, split at the first "\n--\n").
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "eval/mteb.hpp"
#include "index/corpus_reader.hpp"
#include "xling/errors.hpp"

namespace {

const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("xling-fuzz-corpus-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

void read_all(const std::string& path, xling::index::CorpusFormat format) {
  try {
    xling::index::CorpusReader reader(path, std::move(format));
    xling::index::Document d;
    while (reader.next(d)) {
    }
  } catch (const xling::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const auto& dir = work_dir();
  write(dir / "corpus.jsonl", bytes);
  write(dir / "corpus.txt", bytes);
  xling::index::CorpusFormat mteb;
  mteb.title_field = "title";
  read_all((dir / "corpus.jsonl").string(), mteb);
  read_all((dir / "corpus.txt").string(), {});
  const auto split = bytes.find("\n--\n");
  write(dir / "queries.jsonl", bytes.substr(0, split));
  write(dir / "qrels.tsv", split == std::string::npos ? std::string() : bytes.substr(split + 4));
  try {
    (void)xling::eval::load_mteb_queries(dir.string());
  } catch (const xling::Error&) {
  }
  return 0;
}
