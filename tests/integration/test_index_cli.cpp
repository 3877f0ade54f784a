// `xling index build | add | info | merge`, `xling search` and `xling select-examples` with the
// real binary and the embedded model on held-out catalog texts: search equals brute-force
// cosine over `xling embed`, HNSW recall on real embeddings, sharded build + merge, kill
// safety of `index add`, and the errors for bad inputs.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../unit/test_util.hpp"

namespace fs = std::filesystem;

namespace {

using xling::testing::CommandResult;
using xling::testing::ScratchDir;

CommandResult run(const std::vector<std::string>& args, const std::string& stdin_file = "/dev/null") {
  return xling::testing::run_command(XLING_BIN, args, stdin_file);
}

struct Row {
  std::string en, text, lang;
};

// `per_lang` held-out rows of each language (models/xling-mini/eval/test: never trained on).
std::vector<Row> held_out(const std::vector<std::string>& langs, std::size_t per_lang, std::size_t skip = 0) {
  std::vector<Row> out;
  for (const auto& lang : langs) {
    std::ifstream in(std::string(XLING_SOURCE_DIR) + "/models/xling-mini/eval/test/" + lang + ".jsonl");
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line) && n < skip + per_lang) {
      if (n++ < skip) continue;
      auto j = nlohmann::json::parse(line);
      out.push_back({j["en"], j["text"], lang});
    }
  }
  return out;
}

// Corpus JSONL: id "<lang>-<i>", the translation as text, the language as an extra field.
std::string write_corpus(const std::string& path, const std::vector<Row>& rows, std::size_t first = 0) {
  std::ofstream f(path);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    f << nlohmann::json({{"id", rows[i].lang + "-" + std::to_string(first + i)}, {"text", rows[i].text}, {"lang", rows[i].lang}}).dump()
      << "\n";
  }
  return path;
}

std::vector<nlohmann::json> jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(nlohmann::json::parse(text.substr(start, nl - start)));
  }
  return out;
}

nlohmann::json info_json(const std::string& idx) {
  auto r = run({"index", "info", "--json", idx});
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::vector<std::vector<float>> embed(const std::string& input) {
  auto r = run({"embed", "--normalize", "--input", input, "--output", "-"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<std::vector<float>> out;
  for (const auto& j : jsonl(r.out)) out.push_back(j["embedding"].get<std::vector<float>>());
  return out;
}

}  // namespace

TEST(IndexCli, SearchEqualsBruteForceCosineOverEmbed) {
  ScratchDir dir;
  auto rows = held_out({"fr", "ru", "ja"}, 150);
  write_corpus(dir.file("corpus.jsonl"), rows);
  auto b = run({"index", "build", "-q", "--input", dir.file("corpus.jsonl"), "--output", dir.file("idx")});
  ASSERT_EQ(b.code, 0) << b.err;
  auto info = info_json(dir.file("idx"));
  EXPECT_EQ(info["documents"], rows.size());
  EXPECT_EQ(info["type"], "flat");
  EXPECT_EQ(info["generation"], 1);

  // Queries: English sources of some rows. Expected ranking: cosine over `xling embed` vectors.
  std::string queries, texts;
  for (const auto& r : rows) texts += nlohmann::json(r.text).dump() + "\n";
  for (std::size_t i = 0; i < rows.size(); i += 37) queries += nlohmann::json(rows[i].en).dump() + "\n";
  xling::testing::write_bytes(dir.file("q.jsonl"), queries);
  xling::testing::write_bytes(dir.file("texts.jsonl"), texts);
  auto docs = embed(dir.file("texts.jsonl"));
  auto qs = embed(dir.file("q.jsonl"));
  ASSERT_EQ(docs.size(), rows.size());
  // Plain-text queries: id = line number. --queries .txt would be line based; JSONL strings need ids, so use .txt.
  std::string qtxt;
  for (std::size_t i = 0; i < rows.size(); i += 37) qtxt += rows[i].en + "\n";
  xling::testing::write_bytes(dir.file("q.txt"), qtxt);
  auto s = run({"search", "--index", dir.file("idx"), "--queries", dir.file("q.txt"), "-k", "5"});
  ASSERT_EQ(s.code, 0) << s.err;
  auto results = jsonl(s.out);
  ASSERT_EQ(results.size(), qs.size());
  for (std::size_t q = 0; q < qs.size(); ++q) {
    std::vector<std::pair<float, std::size_t>> cos;
    for (std::size_t d = 0; d < docs.size(); ++d) {
      double c = 0;
      for (std::size_t k = 0; k < docs[d].size(); ++k) c += static_cast<double>(qs[q][k]) * docs[d][k];
      cos.emplace_back(static_cast<float>(c), d);
    }
    std::sort(cos.begin(), cos.end(), [](auto a, auto b) { return a.first > b.first; });
    const auto& res = results[q]["results"];
    ASSERT_EQ(res.size(), 5u);
    EXPECT_EQ(results[q]["query_id"], std::to_string(q + 1));
    for (std::size_t r = 0; r < 5; ++r) {
      EXPECT_NEAR(res[r]["score"].get<double>(), cos[r].first, 2e-4) << "query " << q << " rank " << r;
      std::size_t d = cos[r].second;
      if (r == 0 || cos[r - 1].first - cos[r].first > 1e-4) {  // not a near-tie
        EXPECT_EQ(res[r]["id"], rows[d].lang + "-" + std::to_string(d));
        EXPECT_EQ(res[r]["text"], rows[d].text);
        EXPECT_EQ(res[r]["fields"]["lang"], rows[d].lang);
      }
    }
  }
}

TEST(IndexCli, HnswRecallOnRealEmbeddings) {
  ScratchDir dir;
  auto rows = held_out({"de", "es", "pt", "it", "pl", "tr", "zh_CN", "ko"}, 400);
  write_corpus(dir.file("corpus.jsonl"), rows);
  std::string q;
  for (std::size_t i = 0; i < rows.size(); i += 16) q += rows[i].en + "\n";
  xling::testing::write_bytes(dir.file("q.txt"), q);
  for (const char* type : {"flat", "hnsw"}) {
    auto b = run({"index", "build", "-q", "--type", type, "--input", dir.file("corpus.jsonl"), "--output", dir.file(type)});
    ASSERT_EQ(b.code, 0) << b.err;
  }
  EXPECT_EQ(info_json(dir.file("hnsw"))["type"], "hnsw");
  auto exact = jsonl(run({"search", "--index", dir.file("flat"), "--queries", dir.file("q.txt"), "-k", "10", "--no-text"}).out);
  auto approx = jsonl(run({"search", "--index", dir.file("hnsw"), "--queries", dir.file("q.txt"), "-k", "10", "--no-text"}).out);
  ASSERT_EQ(exact.size(), approx.size());
  ASSERT_GT(exact.size(), 100u);
  double hit = 0, total = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    std::set<std::string> truth;
    for (const auto& r : exact[i]["results"]) truth.insert(r["id"].get<std::string>());
    for (const auto& r : approx[i]["results"]) hit += truth.count(r["id"].get<std::string>());
    total += static_cast<double>(truth.size());
  }
  EXPECT_GE(hit / total, 0.95) << hit << " of " << total;
}

TEST(IndexCli, AddThenShardedBuildAndMergeEqualOneBuild) {
  ScratchDir dir;
  auto rows = held_out({"fr", "ar"}, 120);
  std::vector<Row> a(rows.begin(), rows.begin() + 100), b(rows.begin() + 100, rows.end());
  write_corpus(dir.file("all.jsonl"), rows);
  write_corpus(dir.file("a.jsonl"), a);
  write_corpus(dir.file("b.jsonl"), b, 100);
  ASSERT_EQ(run({"index", "build", "-q", "--input", dir.file("all.jsonl"), "--output", dir.file("whole")}).code, 0);
  ASSERT_EQ(run({"index", "build", "-q", "--input", dir.file("a.jsonl"), "--output", dir.file("s1")}).code, 0);
  ASSERT_EQ(run({"index", "build", "-q", "--template", dir.file("s1"), "--input", dir.file("b.jsonl"), "--output", dir.file("s2")}).code, 0);
  auto m = run({"index", "merge", "-q", dir.file("s1"), dir.file("s2"), "--output", dir.file("merged")});
  ASSERT_EQ(m.code, 0) << m.err;
  // index add of the second half onto a copy of the first shard gives the same index too.
  fs::copy(dir.file("s1"), dir.file("grown"), fs::copy_options::recursive);
  auto add = run({"index", "add", "-q", "--index", dir.file("grown"), "--input", dir.file("b.jsonl")});
  ASSERT_EQ(add.code, 0) << add.err;
  EXPECT_EQ(info_json(dir.file("grown"))["generation"], 2);
  EXPECT_FALSE(fs::exists(dir.file("grown/vectors.1.faiss")));
  EXPECT_EQ(info_json(dir.file("merged"))["inputs"].size(), 2u);
  // Converting the whole index to hnsw keeps documents and settings, without re-embedding.
  auto conv = run({"index", "convert", dir.file("whole"), "--type", "hnsw", "--output", dir.file("converted")});
  ASSERT_EQ(conv.code, 0) << conv.err;
  auto ci = info_json(dir.file("converted"));
  EXPECT_EQ(ci["type"], "hnsw");
  EXPECT_EQ(ci["documents"], rows.size());
  EXPECT_EQ(ci["model_fingerprint"], info_json(dir.file("whole"))["model_fingerprint"]);

  std::string q;
  for (std::size_t i = 0; i < rows.size(); i += 11) q += rows[i].en + "\n";
  xling::testing::write_bytes(dir.file("q.txt"), q);
  auto whole = jsonl(run({"search", "--index", dir.file("whole"), "--queries", dir.file("q.txt"), "-k", "3"}).out);
  for (const char* other : {"merged", "grown", "converted"}) {
    auto got = jsonl(run({"search", "--index", dir.file(other), "--queries", dir.file("q.txt"), "-k", "3"}).out);
    ASSERT_EQ(got.size(), whole.size()) << other;
    for (std::size_t i = 0; i < got.size(); ++i) {
      for (std::size_t r = 0; r < 3; ++r) {
        EXPECT_NEAR(got[i]["results"][r]["score"].get<double>(), whole[i]["results"][r]["score"].get<double>(), 2e-4) << other;
      }
      EXPECT_EQ(got[i]["results"][0]["id"], whole[i]["results"][0]["id"]) << other << " query " << i;
    }
  }
}

TEST(IndexCli, KilledAddLeavesThePreviousIndexUsable) {
  ScratchDir dir;
  auto rows = held_out({"ru"}, 300);
  std::vector<Row> a(rows.begin(), rows.begin() + 100), b(rows.begin() + 100, rows.end());
  write_corpus(dir.file("a.jsonl"), a);
  write_corpus(dir.file("b.jsonl"), b, 100);
  const std::string idx = dir.file("idx");
  ASSERT_EQ(run({"index", "build", "-q", "--type", "hnsw", "--input", dir.file("a.jsonl"), "--output", idx}).code, 0);
  xling::testing::write_bytes(dir.file("q.txt"), a[5].en + "\n" + b[7].en + "\n");
  auto before = run({"search", "--index", idx, "--queries", dir.file("q.txt"), "-k", "3"});
  ASSERT_EQ(before.code, 0) << before.err;

  // Killed just before the commit: the new vectors file exists, nothing is committed.
  auto killed = xling::testing::run_shell("XLING_INDEX_KILL_AT=append-before-commit " + xling::testing::shell_quote(XLING_BIN) +
                                          " index add -q --index " + xling::testing::shell_quote(idx) + " --input " +
                                          xling::testing::shell_quote(dir.file("b.jsonl")));
  EXPECT_EQ(killed.code, 128 + SIGKILL);
  EXPECT_EQ(info_json(idx)["documents"], 100);
  EXPECT_EQ(run({"search", "--index", idx, "--queries", dir.file("q.txt"), "-k", "3"}).out, before.out);

  // Killed at random moments of a real add: the index is the old or the new one, never broken.
  for (int delay_ms : {150, 400, 900}) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execl(XLING_BIN, XLING_BIN, "index", "add", "-q", "--index", idx.c_str(), "--input", dir.file("b.jsonl").c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    auto n = info_json(idx)["documents"].get<int>();
    EXPECT_TRUE(n == 100 || n == 300) << n;
    auto s = run({"search", "--index", idx, "--queries", dir.file("q.txt"), "-k", "3"});
    EXPECT_EQ(s.code, 0) << s.err;
    if (n == 300) break;  // the add completed before the kill
  }
  // The next writer cleans up and appends; killed after the commit, the new state stands.
  const auto count_before = info_json(idx)["documents"].get<int>();
  auto after = xling::testing::run_shell("XLING_INDEX_KILL_AT=append-after-commit " + xling::testing::shell_quote(XLING_BIN) +
                                         " index add -q --index " + xling::testing::shell_quote(idx) + " --input " +
                                         xling::testing::shell_quote(dir.file("b.jsonl")));
  if (count_before == 100) {
    EXPECT_EQ(after.code, 128 + SIGKILL);
    EXPECT_EQ(info_json(idx)["documents"], 300);
  } else {  // already added: the ids are duplicates now
    EXPECT_EQ(after.code, 1);
    EXPECT_NE(after.err.find("duplicate id"), std::string::npos) << after.err;
  }
  auto s = run({"search", "--index", idx, "--queries", dir.file("q.txt"), "-k", "1"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(jsonl(s.out)[1]["results"][0]["text"], b[7].text);
  std::size_t vector_files = 0;
  for (const auto& e : fs::directory_iterator(idx)) vector_files += e.path().extension() == ".faiss";
  EXPECT_LE(vector_files, 2u);
}

TEST(IndexCli, BadInputsAreClearErrors) {
  ScratchDir dir;
  auto rows = held_out({"fr"}, 20);
  write_corpus(dir.file("c.jsonl"), rows);
  const std::string idx = dir.file("idx");
  ASSERT_EQ(run({"index", "build", "-q", "--input", dir.file("c.jsonl"), "--output", idx}).code, 0);

  auto expect_error = [&](const std::vector<std::string>& args, const std::string& needle) {
    auto r = run(args);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
  };
  xling::testing::write_bytes(dir.file("empty.jsonl"), "");
  expect_error({"index", "build", "-q", "--input", dir.file("empty.jsonl"), "--output", dir.file("e")}, "empty corpus");
  EXPECT_FALSE(fs::exists(dir.file("e")));
  xling::testing::write_bytes(dir.file("dup.jsonl"), "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\", \"text\": \"y\"}\n{\"id\": \"a\", \"text\": \"z\"}\n");
  expect_error({"index", "build", "-q", "--input", dir.file("dup.jsonl"), "--output", dir.file("d")}, "dup.jsonl:3: duplicate id 'a' (also on line 1)");
  expect_error({"index", "add", "-q", "--index", idx, "--input", dir.file("c.jsonl")}, "c.jsonl:1: duplicate id 'fr-0'");
  xling::testing::write_bytes(dir.file("noid.jsonl"), "{\"text\": \"x\"}\n");
  expect_error({"index", "build", "-q", "--input", dir.file("noid.jsonl"), "--output", dir.file("n")}, "noid.jsonl:1: no id field 'id'");
  xling::testing::write_bytes(dir.file("bad.jsonl"), "{\"id\": 1, \"text\": \"\xff\"}\n");
  expect_error({"index", "build", "-q", "--input", dir.file("bad.jsonl"), "--output", dir.file("b")}, "bad.jsonl:1: invalid UTF-8");
  expect_error({"index", "build", "-q", "--input", dir.file("c.jsonl"), "--output", idx}, "already exists");
  expect_error({"index", "build", "-q", "--type", "annoy", "--input", dir.file("c.jsonl"), "--output", dir.file("t")}, "unknown index type 'annoy'");
  expect_error({"index", "build", "-q", "--type", "ivfpq", "--input", dir.file("c.jsonl"), "--output", dir.file("t")}, "ivfpq needs at least");

  // Another model: refused by fingerprint; forced, its dimension does not match.
  const std::string e5 = std::string(XLING_FIXTURES) + "/sentence_transformers/e5_like_mean";
  expect_error({"search", "--index", idx, "-q", "x", "--model", e5}, "fingerprint");
  expect_error({"search", "--index", idx, "-q", "x", "--model", e5, "--force"}, "dimensions");
  expect_error({"index", "add", "-q", "--index", idx, "--input", dir.file("c.jsonl"), "--model", e5}, "fingerprint");
  expect_error({"search", "--index", idx}, "--query");
  expect_error({"search", "--index", idx, "-q", "x", "-k", "0"}, "--top-k");
  expect_error({"search", "--index", dir.file("nowhere"), "-q", "x"}, "no such index directory");
  expect_error({"index", "info", dir.file("c.jsonl")}, "no such index directory");

  // Missing or damaged files name the file.
  fs::copy(idx, dir.file("broken"), fs::copy_options::recursive);
  fs::remove(dir.file("broken/vectors.1.faiss"));
  expect_error({"search", "--index", dir.file("broken"), "-q", "x"}, "vectors.1.faiss");
  fs::copy(idx, dir.file("nodocs"), fs::copy_options::recursive);
  fs::remove(dir.file("nodocs/docs.sqlite"));
  expect_error({"index", "info", dir.file("nodocs")}, "not an xling index");
  fs::create_directory(dir.file("junk"));
  xling::testing::write_bytes(dir.file("junk/docs.sqlite"), std::string(4096, 'j'));
  expect_error({"index", "info", dir.file("junk")}, "docs.sqlite");
}

TEST(IndexCli, SelectExamplesPicksSimilarPairsAndDiversifies) {
  ScratchDir dir;
  auto rows = held_out({"de"}, 300);
  std::string pool;
  for (const auto& r : rows) pool += nlohmann::json({{"source", r.en}, {"target", r.text}}).dump() + "\n";
  xling::testing::write_bytes(dir.file("pool.jsonl"), pool);
  auto inputs = held_out({"de"}, 5, 400);  // other sentences of the same kind
  std::string in;
  for (const auto& r : inputs) in += r.en + "\n";
  xling::testing::write_bytes(dir.file("in.txt"), in);
  auto r = run({"select-examples", "--pool", dir.file("pool.jsonl"), "--inputs", dir.file("in.txt"), "--k", "3",
                "--src-label", "English", "--tgt-label", "German"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = jsonl(r.out);
  ASSERT_EQ(out.size(), inputs.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& ex = out[i]["examples"];
    ASSERT_EQ(ex.size(), 3u);
    EXPECT_GE(ex[0]["score"].get<double>(), ex[1]["score"].get<double>());
    EXPECT_GE(ex[1]["score"].get<double>(), ex[2]["score"].get<double>());
    const auto line = ex[0]["line"].get<std::size_t>();
    EXPECT_EQ(ex[0]["source"], rows[line - 1].en);
    EXPECT_EQ(ex[0]["target"], rows[line - 1].text);
    const std::string prompt = out[i]["prompt"];
    const std::string tail = "English: " + inputs[i].en + "\nGerman:";
    EXPECT_EQ(prompt.substr(prompt.size() - tail.size()), tail);
    EXPECT_NE(prompt.find("English: " + ex[0]["source"].get<std::string>() + "\nGerman: " + ex[0]["target"].get<std::string>() + "\n\n" + tail),
              std::string::npos);  // the most similar example sits next to the input
  }
  // MMR keeps the best match and can only lower the mean similarity of the rest.
  auto m = run({"select-examples", "--pool", dir.file("pool.jsonl"), "--inputs", dir.file("in.txt"), "--k", "3", "--mmr-lambda", "0.3"});
  ASSERT_EQ(m.code, 0) << m.err;
  auto mo = jsonl(m.out);
  for (std::size_t i = 0; i < mo.size(); ++i) {
    EXPECT_EQ(mo[i]["examples"][0]["line"], out[i]["examples"][0]["line"]);
    double plain = 0, mmr = 0;
    for (int k = 0; k < 3; ++k) {
      plain += out[i]["examples"][k]["score"].get<double>();
      mmr += mo[i]["examples"][k]["score"].get<double>();
    }
    EXPECT_LE(mmr, plain + 1e-6);
  }
  // Inputs taken from the pool: their own pair comes first, unless --exclude-identical leaves it
  // out (leave-one-out selection for building training prompts).
  std::string own;
  for (std::size_t i = 0; i < 4; ++i) own += rows[i * 7].en + "\n";
  xling::testing::write_bytes(dir.file("own.txt"), own);
  for (bool exclude : {false, true}) {
    std::vector<std::string> args{"select-examples", "--pool", dir.file("pool.jsonl"), "--inputs", dir.file("own.txt"), "--k", "2"};
    if (exclude) args.push_back("--exclude-identical");
    auto e = run(args);
    ASSERT_EQ(e.code, 0) << e.err;
    auto eo = jsonl(e.out);
    ASSERT_EQ(eo.size(), 4u);
    for (const auto& row : eo) {
      ASSERT_EQ(row["examples"].size(), 2u);
      bool has_own = false;
      for (const auto& ex : row["examples"]) has_own |= ex["source"] == row["input"];
      if (exclude) {
        EXPECT_FALSE(has_own) << row.dump();
      } else {
        EXPECT_EQ(row["examples"][0]["source"], row["input"]);
      }
    }
  }
  auto bad = run({"select-examples", "--pool", dir.file("in.txt"), "--inputs", dir.file("in.txt")});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("in.txt:1"), std::string::npos) << bad.err;
  auto lam = run({"select-examples", "--pool", dir.file("pool.jsonl"), "--inputs", dir.file("in.txt"), "--mmr-lambda", "2"});
  EXPECT_EQ(lam.code, 1);
  EXPECT_NE(lam.err.find("lambda"), std::string::npos) << lam.err;
}

TEST(IndexCli, EvalRetrievalInMtebLayoutMatchesSearch) {
  // corpus.jsonl / queries.jsonl / qrels/test.tsv: English queries, their French translations
  // as the corpus, one relevant document per query.
  ScratchDir dir;
  auto rows = held_out({"fr"}, 250, 100);
  fs::create_directories(dir.file("mteb-fr/qrels"));
  std::string corpus, queries, qrels = "query-id\tcorpus-id\tscore\n", qtxt;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    corpus += nlohmann::json({{"_id", "c" + std::to_string(i)}, {"title", ""}, {"text", rows[i].text}}).dump() + "\n";
    if (i % 5 == 0) {
      queries += nlohmann::json({{"_id", "q" + std::to_string(i)}, {"text", rows[i].en}}).dump() + "\n";
      qrels += "q" + std::to_string(i) + "\tc" + std::to_string(i) + "\t1\n";
      qtxt += rows[i].en + "\n";
    }
  }
  queries += nlohmann::json({{"_id", "unjudged"}, {"text", "not in the qrels"}}).dump() + "\n";
  xling::testing::write_bytes(dir.file("mteb-fr/corpus.jsonl"), corpus);
  xling::testing::write_bytes(dir.file("mteb-fr/queries.jsonl"), queries);
  xling::testing::write_bytes(dir.file("mteb-fr/qrels/test.tsv"), qrels);
  nlohmann::json suite = {{"tasks", {{{"name", "catalog-retrieval"}, {"type", "retrieval"},
                                      {"metrics", {"ndcg@10", "mrr@10", "recall@100"}}, {"languages", {{"fr", "mteb-fr"}}}}}}};
  xling::testing::write_bytes(dir.file("suite.json"), suite.dump());
  auto r = run({"eval", "-q", "--config", dir.file("suite.json"), "--output-dir", dir.file("out"), "--save-predictions", dir.file("pred")});
  ASSERT_EQ(r.code, 0) << r.err;
  auto res = nlohmann::json::parse(xling::testing::read_bytes(dir.file("out/results.json")));
  const auto& metrics = res["tasks"][0]["metrics"];
  ASSERT_EQ(metrics.size(), 3u);
  const double ndcg = metrics[0]["per_language"]["fr"]["value"], mrr = metrics[1]["per_language"]["fr"]["value"],
               recall = metrics[2]["per_language"]["fr"]["value"];

  // The saved rankings: one per judged query (the unjudged one is skipped, as MTEB does), equal
  // to `xling search` on an index of the same corpus; metrics recomputed from them agree.
  auto pred = jsonl(xling::testing::read_bytes(dir.file("pred/catalog-retrieval/fr.jsonl")));
  ASSERT_EQ(pred.size(), 50u);
  ASSERT_EQ(run({"index", "build", "-q", "--input", dir.file("mteb-fr/corpus.jsonl"), "--title-field", "title", "--output", dir.file("idx")}).code, 0);
  xling::testing::write_bytes(dir.file("q.txt"), qtxt);
  auto s = jsonl(run({"search", "--index", dir.file("idx"), "--queries", dir.file("q.txt"), "-k", "100", "--no-text"}).out);
  ASSERT_EQ(s.size(), pred.size());
  double mrr_sum = 0, ndcg_sum = 0, found = 0;
  for (std::size_t q = 0; q < pred.size(); ++q) {
    ASSERT_EQ(pred[q]["ids"].size(), 100u);
    for (std::size_t k = 0; k < 10; ++k) {
      EXPECT_NEAR(pred[q]["scores"][k].get<double>(), s[q]["results"][k]["score"].get<double>(), 2e-4);
    }
    EXPECT_EQ(pred[q]["ids"][0], s[q]["results"][0]["id"]);
    const std::string gold = "c" + std::to_string(q * 5);
    for (std::size_t k = 0; k < 100; ++k) {
      if (pred[q]["ids"][k] == gold) {
        found += 1;
        if (k < 10) {
          mrr_sum += 1.0 / static_cast<double>(k + 1);
          ndcg_sum += 1.0 / std::log2(static_cast<double>(k) + 2.0);
        }
      }
    }
  }
  EXPECT_NEAR(mrr, mrr_sum / 50, 1e-9);
  EXPECT_NEAR(ndcg, ndcg_sum / 50, 1e-9);
  EXPECT_NEAR(recall, found / 50, 1e-9);
  EXPECT_GE(recall, 0.9);  // translations of the query are found (xling-mini: ~95 % top-1 for French)

  // Predictions mode reads the same rankings; a missing qrels file is a clear error.
  auto again = run({"eval", "-q", "--config", dir.file("suite.json"), "--predictions", dir.file("pred"), "--output-dir", dir.file("out2")});
  ASSERT_EQ(again.code, 0) << again.err;
  auto res2 = nlohmann::json::parse(xling::testing::read_bytes(dir.file("out2/results.json")));
  EXPECT_EQ(res2["tasks"][0]["metrics"], metrics);
  fs::remove_all(dir.file("mteb-fr/qrels"));
  auto bad = run({"eval", "-q", "--config", dir.file("suite.json"), "--output-dir", dir.file("out3")});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("qrels"), std::string::npos) << bad.err;
}
