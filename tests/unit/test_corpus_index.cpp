// Corpus index directories: build, reopen, search with documents, append, merge, and the
// errors for duplicate ids, empty corpora, missing or inconsistent files. Kill-safety of
// `index add` is tested with the real CLI (integration/test_index_cli.cpp).
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "index/corpus_index.hpp"
#include "test_util.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;

namespace xling::index {
namespace {

constexpr int kDim = 12;

std::vector<float> vecs(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(n * kDim);
  for (auto& x : v) x = g(rng);
  return v;
}

std::vector<Document> docs(int first, int n, const std::string& prefix = "d") {
  std::vector<Document> out;
  for (int i = first; i < first + n; ++i) {
    Document d;
    d.id = prefix + std::to_string(i);
    d.text = "text " + std::to_string(i) + " \xc3\xa9\t\n";
    if (i % 2) d.fields = "{\"lang\":\"fr\"}";
    d.offset = i * 10;
    out.push_back(d);
  }
  return out;
}

IndexSettings settings() {
  IndexSettings s;
  s.model = "/models/m";
  s.model_fingerprint = "sha256:abc";
  s.doc_prompt = "passage: ";
  s.query_prompt = "query: ";
  s.dim = kDim;
  return s;
}

std::string build(const std::string& dir, int n, uint32_t seed, std::optional<IndexKind> kind = IndexKind::kFlat) {
  IndexBuilder b(dir, settings(), false);
  auto in = b.add_input("corpus.jsonl");
  auto d = docs(0, n);
  for (auto& x : d) x.input = in;
  auto v = vecs(static_cast<std::size_t>(n), seed);
  b.add(d, v.data());
  b.finish(kind);
  return dir;
}

TEST(CorpusIndex, BuildOpenSearchReturnsDocuments) {
  xling::testing::ScratchDir tmp;
  auto dir = build(tmp.file("idx"), 50, 1);
  auto idx = CorpusIndex::open(dir);
  const auto& info = idx.info();
  EXPECT_EQ(info.count, 50);
  EXPECT_EQ(info.dim, kDim);
  EXPECT_EQ(info.kind, IndexKind::kFlat);
  EXPECT_EQ(info.model_fingerprint, "sha256:abc");
  EXPECT_EQ(info.query_prompt, "query: ");
  EXPECT_EQ(info.inputs, std::vector<std::string>{"corpus.jsonl"});
  EXPECT_FALSE(fs::exists(tmp.file("idx.partial-" + std::to_string(::getpid()))));

  // Each stored vector finds itself first (vectors are normalised; queries need not be).
  auto v = vecs(50, 1);
  for (auto& x : v) x *= 3.5f;
  auto hits = idx.search(v.data(), 50, 3);
  ASSERT_EQ(hits.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(hits[static_cast<std::size_t>(i)].size(), 3u);
    const auto& top = hits[static_cast<std::size_t>(i)][0];
    EXPECT_EQ(top.doc.id, "d" + std::to_string(i));
    EXPECT_EQ(top.doc.text, "text " + std::to_string(i) + " \xc3\xa9\t\n");
    EXPECT_EQ(top.doc.fields, i % 2 ? "{\"lang\":\"fr\"}" : "");
    EXPECT_EQ(top.doc.offset, i * 10);
    EXPECT_NEAR(top.score, 1.0, 1e-5);
  }
}

TEST(CorpusIndex, AppendCommitsAndRollsBack) {
  xling::testing::ScratchDir tmp;
  auto dir = build(tmp.file("idx"), 20, 2, IndexKind::kHnsw);
  {
    IndexAppender a(dir);
    EXPECT_THROW(IndexAppender second(dir), IoError);  // one writer at a time
    auto d = docs(20, 10);
    auto v = vecs(10, 3);
    a.add(d, v.data());
    EXPECT_EQ(CorpusIndex::open(dir).info().count, 20);  // readers see the committed state only
    auto info = a.commit();
    EXPECT_EQ(info.count, 30);
    EXPECT_EQ(info.generation, 2);
  }
  EXPECT_FALSE(fs::exists(fs::path(dir) / "vectors.1.faiss"));
  auto idx = CorpusIndex::open(dir);
  EXPECT_EQ(idx.info().count, 30);
  EXPECT_EQ(idx.info().kind, IndexKind::kHnsw);
  auto v = vecs(10, 3);
  EXPECT_EQ(idx.search(v.data() + 4 * kDim, 1, 1)[0][0].doc.id, "d24");

  // Without commit nothing changes.
  {
    IndexAppender a(dir);
    auto d = docs(30, 5);
    auto w = vecs(5, 4);
    a.add(d, w.data());
  }
  EXPECT_EQ(CorpusIndex::open(dir).info().count, 30);
}

TEST(CorpusIndex, DuplicateIdsAreRefusedAndNothingOfTheBatchIsKept) {
  xling::testing::ScratchDir tmp;
  auto dir = build(tmp.file("idx"), 10, 5);
  IndexAppender a(dir);
  auto d = docs(10, 3);
  d[2].id = "d4";  // already in the index
  auto v = vecs(3, 6);
  try {
    a.add(d, v.data());
    FAIL() << "duplicate id accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate id 'd4'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("document 5"), std::string::npos) << e.what();
  }
  EXPECT_EQ(a.size(), 10);
  auto ok = docs(10, 2);
  auto w = vecs(2, 7);
  a.add(ok, w.data());
  EXPECT_EQ(a.commit().count, 12);

  IndexBuilder b(tmp.file("dup"), settings(), false);
  auto twice = docs(0, 2);
  twice[1].id = twice[0].id;
  auto x = vecs(2, 8);
  EXPECT_THROW(b.add(twice, x.data()), InvalidArgument);
}

TEST(CorpusIndex, BadDirectoriesGiveClearErrors) {
  xling::testing::ScratchDir tmp;
  {
    IndexBuilder b(tmp.file("empty"), settings(), false);
    EXPECT_THROW(b.finish(std::nullopt), InvalidArgument);  // empty corpus
  }
  EXPECT_FALSE(fs::exists(tmp.file("empty")));
  EXPECT_THROW(CorpusIndex::open(tmp.file("nope")), IoError);
  fs::create_directory(tmp.file("plain"));
  EXPECT_THROW(CorpusIndex::open(tmp.file("plain")), IoError);

  auto dir = build(tmp.file("idx"), 10, 9);
  EXPECT_THROW(IndexBuilder(dir, settings(), false), IoError);  // exists, no --overwrite
  xling::testing::write_bytes(tmp.file("file"), "x");
  EXPECT_THROW(IndexBuilder(tmp.file("file"), settings(), true), IoError);  // not an index: never replaced
  EXPECT_THROW(IndexBuilder(tmp.file("no/such/parent/idx"), settings(), false), IoError);

  fs::remove(fs::path(dir) / "vectors.1.faiss");
  try {
    CorpusIndex::open(dir);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("vectors.1.faiss"), std::string::npos) << e.what();
  }
  // Vectors of another index: counts disagree.
  auto other = build(tmp.file("other"), 7, 10);
  fs::copy_file(fs::path(other) / "vectors.1.faiss", fs::path(dir) / "vectors.1.faiss");
  EXPECT_THROW(CorpusIndex::open(dir), IoError);

  xling::testing::write_bytes(tmp.file("junk/docs.sqlite"), "not sqlite");
  EXPECT_THROW(CorpusIndex::open(tmp.file("junk")), IoError);
}

TEST(CorpusIndex, OverwriteReplacesAnIndex) {
  xling::testing::ScratchDir tmp;
  auto dir = build(tmp.file("idx"), 10, 11);
  IndexBuilder b(dir, settings(), true);
  auto d = docs(0, 4, "new");
  auto v = vecs(4, 12);
  b.add(d, v.data());
  EXPECT_EQ(CorpusIndex::open(dir).info().count, 10);  // the old one until finish
  b.finish(std::nullopt);
  auto idx = CorpusIndex::open(dir);
  EXPECT_EQ(idx.info().count, 4);
  EXPECT_TRUE(idx.docs().find("new2").has_value());
  EXPECT_FALSE(idx.docs().find("d2").has_value());
}

TEST(CorpusIndex, MergeShards) {
  xling::testing::ScratchDir tmp;
  std::vector<std::string> shards;
  auto all_v = vecs(60, 13);
  for (int s = 0; s < 3; ++s) {
    IndexBuilder b(tmp.file("shard" + std::to_string(s)), settings(), false);
    auto in = b.add_input("part" + std::to_string(s) + ".jsonl");
    auto d = docs(s * 20, 20);
    for (auto& x : d) x.input = in;
    std::vector<float> v(all_v.begin() + s * 20 * kDim, all_v.begin() + (s + 1) * 20 * kDim);
    b.add(d, v.data());
    b.finish(IndexKind::kFlat);
    shards.push_back(tmp.file("shard" + std::to_string(s)));
  }
  auto info = merge_indexes(shards, tmp.file("merged"), false);
  EXPECT_EQ(info.count, 60);
  EXPECT_EQ(info.inputs.size(), 3u);
  auto idx = CorpusIndex::open(tmp.file("merged"));
  auto hits = idx.search(all_v.data(), 60, 1);
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ(hits[static_cast<std::size_t>(i)][0].doc.id, "d" + std::to_string(i));
    EXPECT_EQ(hits[static_cast<std::size_t>(i)][0].doc.position, i);
    EXPECT_EQ(idx.docs().inputs()[static_cast<std::size_t>(hits[static_cast<std::size_t>(i)][0].doc.input - 1)],
              "part" + std::to_string(i / 20) + ".jsonl");
  }
  // Same ids in two shards, or another model: refused.
  EXPECT_THROW(merge_indexes({shards[0], shards[0]}, tmp.file("m2"), false), InvalidArgument);
  EXPECT_FALSE(fs::exists(tmp.file("m2")));
  auto s = settings();
  s.model_fingerprint = "sha256:other";
  IndexBuilder b(tmp.file("othermodel"), s, false);
  auto d = docs(100, 2);
  auto v = vecs(2, 14);
  b.add(d, v.data());
  b.finish(IndexKind::kFlat);
  EXPECT_THROW(merge_indexes({shards[0], tmp.file("othermodel")}, tmp.file("m3"), false), InvalidArgument);
}

}  // namespace
}  // namespace xling::index
