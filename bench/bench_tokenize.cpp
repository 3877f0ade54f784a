// Tokenizer throughput: encodes a corpus (JSONL of strings, repeated to --mb megabytes)
// with one tokenizer, single thread and all threads, and prints MB/s as one JSON line.
// bench/tokenize_bench.py runs it next to HF tokenizers and sentencepiece (the baselines)
// on the same files and prints the comparison table.
// Usage: bench_tokenize TOKENIZER CORPUS.jsonl [MB=50] [THREADS=all]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tokenize/text_tokenizer.hpp"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_tokenize TOKENIZER CORPUS.jsonl [MB=50] [THREADS=all]\n");
    return 2;
  }
  try {
    auto tok = xling::tokenize::load_text_tokenizer(argv[1]);
    double mb = argc > 3 ? std::atof(argv[3]) : 50.0;
    unsigned threads = argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : std::thread::hardware_concurrency();
    std::vector<std::string> base;
    std::ifstream in(argv[2]);
    std::string line;
    while (std::getline(in, line)) base.push_back(nlohmann::json::parse(line).get<std::string>());
    std::vector<std::string> corpus;
    std::size_t bytes = 0;
    while (bytes < mb * 1e6) {
      for (const auto& t : base) {
        corpus.push_back(t);
        bytes += t.size();
      }
    }
    auto run = [&](unsigned n) {
      std::vector<std::size_t> tokens(n, 0);
      auto t0 = Clock::now();
      std::vector<std::thread> pool;
      std::size_t chunk = (corpus.size() + n - 1) / n;
      for (unsigned w = 0; w < n; ++w) {
        pool.emplace_back([&, w] {
          std::size_t end = std::min(corpus.size(), (w + 1) * chunk);
          for (std::size_t i = w * chunk; i < end; ++i) tokens[w] += tok->encode(corpus[i], true).size();
        });
      }
      for (auto& t : pool) t.join();
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::size_t total = 0;
      for (auto t : tokens) total += t;
      return std::make_pair(bytes / 1e6 / s, total);
    };
    auto [mbs1, tok1] = run(1);
    auto [mbsn, tokn] = run(std::max(1u, threads));
    nlohmann::json out = {{"tokenizer", argv[1]}, {"kind", tok->kind()}, {"mb", bytes / 1e6}, {"texts", corpus.size()},
                          {"tokens", tok1}, {"mbps_1", mbs1}, {"threads", threads}, {"mbps_n", mbsn}};
    std::printf("%s\n", out.dump().c_str());
    return tok1 == tokn ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenize: %s\n", e.what());
    return 1;
  }
}
