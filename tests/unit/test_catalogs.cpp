// Catalog corpus: normalisation rules, locale -> BCP-47 mapping, dedup and split invariants,
// and a small synthetic locale tree end to end (files written by the test).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "data/catalogs.hpp"
#include "mo_writer.hpp"
#include "xling/errors.hpp"

namespace fs = std::filesystem;
using namespace xling::data;

TEST(CatalogNormalise, Accelerators) {
  EXPECT_EQ(strip_accelerators("_File"), "File");
  EXPECT_EQ(strip_accelerators("Save _As…"), "Save As…");
  EXPECT_EQ(strip_accelerators("&Open"), "Open");
  EXPECT_EQ(strip_accelerators("~Edit"), "Edit");
  EXPECT_EQ(strip_accelerators("Pre_ferences"), "Preferences");
  EXPECT_EQ(strip_accelerators("_Öffnen"), "Öffnen");
  EXPECT_EQ(strip_accelerators("文件(_F)"), "文件");
  EXPECT_EQ(strip_accelerators("開く(&O)..."), "開く...");
  // Not accelerators: entities, identifiers copied to the other side, several markers, no letter after.
  EXPECT_EQ(strip_accelerators("Tom &amp; Jerry"), "Tom &amp; Jerry");
  EXPECT_EQ(strip_accelerators("Unknown key file_name", "Clé inconnue file_name"), "Unknown key file_name");
  EXPECT_EQ(strip_accelerators("AT&T", "AT&T"), "AT&T");
  EXPECT_EQ(strip_accelerators("__init__ failed"), "__init__ failed");
  EXPECT_EQ(strip_accelerators("LC_ALL_MESSAGES"), "LC_ALL_MESSAGES");
  EXPECT_EQ(strip_accelerators("Tom & Jerry"), "Tom & Jerry");
  EXPECT_EQ(strip_accelerators("~/.config"), "~/.config");
}

TEST(CatalogNormalise, Markup) {
  EXPECT_EQ(strip_markup("<b>Bold</b> and <span weight=\"bold\">heavy</span>"), "Bold and heavy");
  EXPECT_EQ(strip_markup("Line<br/>break"), "Line break");
  EXPECT_EQ(strip_markup("Usage: cp <source> <dest>"), "Usage: cp <source> <dest>");
  EXPECT_EQ(strip_markup("a &lt; b &amp;&amp; c &#62; d &#x41;"), "a < b && c > d A");
  // References past U+10FFFF (even with more digits than any integer holds) stay as written.
  EXPECT_EQ(strip_markup("x &#1114112; &#x110000; &#99999999999999999999999; &#xFFFFFFFFFFFFFFFFFF; y"),
            "x &#1114112; &#x110000; &#99999999999999999999999; &#xFFFFFFFFFFFFFFFFFF; y");
  EXPECT_EQ(strip_markup("&#x10FFFF;"), "\U0010FFFF");
  EXPECT_EQ(strip_markup("1 < 2 > 0"), "1 < 2 > 0");
}

TEST(CatalogNormalise, Placeholders) {
  EXPECT_EQ(strip_placeholders("Copying %s to %d"), "Copying  to ");
  EXPECT_EQ(strip_placeholders("%1$s of %2$lu"), " of ");
  EXPECT_EQ(strip_placeholders("[%-10.3f] [%5.2f] [%*d] [%'d] [%lld] [%zu]"), "[] [] [] [] [] []");
  EXPECT_EQ(strip_placeholders("100%% done"), "100% done");
  EXPECT_EQ(strip_placeholders("50% off"), "50% off");
  EXPECT_EQ(strip_placeholders("Hello {0}, {name} {} {0:.2f}"), "Hello ,   ");
  EXPECT_EQ(strip_placeholders("Path ${HOME}/x"), "Path /x");
  EXPECT_EQ(strip_placeholders("Qt %1 and %2"), "Qt  and ");
  EXPECT_EQ(strip_placeholders("%(count)d items"), " items");
  EXPECT_EQ(strip_placeholders("a {b c} d"), "a {b c} d");
  // Quotes around a removed placeholder go with it; so does a 0x prefix.
  EXPECT_EQ(strip_placeholders("file \"%s\" not found"), "file  not found");
  EXPECT_EQ(strip_placeholders("Datei »%s« fehlt, `%s' und '{0}'"), "Datei  fehlt,  und ");
  EXPECT_EQ(strip_placeholders("base 0x%08lx"), "base ");
  EXPECT_EQ(strip_placeholders("le fichier « %s » manque"), "le fichier  manque");
  EXPECT_EQ(strip_placeholders("le fichier «\u00a0%s\u00a0» manque"), "le fichier  manque");
  EXPECT_EQ(strip_placeholders("say \"hi\""), "say \"hi\"");
}

TEST(CatalogNormalise, WhitespaceAndWhole) {
  EXPECT_EQ(collapse_whitespace("  a \t\n b\xC2\xA0 c  "), "a b c");
  EXPECT_EQ(normalize_message("<b>_Save</b> %s   file\n"), "Save file");
  EXPECT_EQ(normalize_message("%s"), "");
}

TEST(CatalogLocales, Bcp47) {
  auto tag = [](const char* l) { return locale_to_bcp47(l).value_or("<none>"); };
  EXPECT_EQ(tag("de"), "de");
  EXPECT_EQ(tag("pt_BR"), "pt-BR");
  EXPECT_EQ(tag("de_CH"), "de-CH");
  EXPECT_EQ(tag("sr@latin"), "sr-Latn");
  EXPECT_EQ(tag("sr@Latn"), "sr-Latn");
  EXPECT_EQ(tag("sr@ije"), "sr-ijekavsk");
  EXPECT_EQ(tag("uz@cyrillic"), "uz-Cyrl");
  EXPECT_EQ(tag("be@latin"), "be-Latn");
  EXPECT_EQ(tag("tt@iqtelif"), "tt-Latn");
  EXPECT_EQ(tag("ca@valencia"), "ca-valencia");
  EXPECT_EQ(tag("zh_CN"), "zh-Hans");
  EXPECT_EQ(tag("zh_TW"), "zh-Hant");
  EXPECT_EQ(tag("zh_HK"), "zh-Hant-HK");
  EXPECT_EQ(tag("zh_Hans"), "zh-Hans");
  EXPECT_EQ(tag("ast"), "ast");
  EXPECT_EQ(tag("de_DE.UTF-8"), "de-DE");
  EXPECT_EQ(tag("C"), "<none>");
  EXPECT_EQ(tag("locale.alias"), "<none>");
  EXPECT_EQ(tag("xx@klingon"), "<none>");
  EXPECT_TRUE(is_english_locale("en"));
  EXPECT_TRUE(is_english_locale("en_GB"));
  EXPECT_TRUE(is_english_locale("en@quot"));
  EXPECT_TRUE(is_english_locale("en@boldquot"));
  EXPECT_FALSE(is_english_locale("eo"));
  EXPECT_FALSE(is_english_locale("eng"));
}

TEST(CatalogSplits, DeterministicAndProportional) {
  std::size_t counts[3] = {0, 0, 0};
  for (int i = 0; i < 20000; ++i) {
    std::string s = "message " + std::to_string(i);
    Split a = split_of(s, 0);
    EXPECT_EQ(a, split_of(s, 0));
    counts[static_cast<int>(a)]++;
  }
  EXPECT_NEAR(counts[0] / 20000.0, 0.8, 0.02);
  EXPECT_NEAR(counts[1] / 20000.0, 0.1, 0.02);
  EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.02);
  int differ = 0;
  for (int i = 0; i < 200; ++i) differ += split_of("m" + std::to_string(i), 0) != split_of("m" + std::to_string(i), 7);
  EXPECT_GT(differ, 0);  // the seed matters
}

namespace {

class CatalogTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("xling_catalogs_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& locale, const std::string& domain, const std::string& bytes) {
    fs::path dir = root_ / "locale" / locale / "LC_MESSAGES";
    fs::create_directories(dir);
    std::ofstream(dir / (domain + ".mo"), std::ios::binary) << bytes;
  }
  // n synthetic messages "Message i" -> prefix + i, plus the fixed ones.
  std::string catalog(const std::string& prefix, int n, bool big_endian = false) {
    std::vector<std::pair<std::string, std::string>> e{{"", xling::test::kUtf8Header}};
    for (int i = 0; i < n; ++i) e.emplace_back("Message " + std::to_string(i), prefix + " " + std::to_string(i));
    return xling::test::mo_bytes(e, big_endian);
  }
  CatalogOptions options() {
    CatalogOptions o;
    o.locale_dir = (root_ / "locale").string();
    o.dpkg_info_dir = (root_ / "dpkg").string();
    o.progress = false;
    return o;
  }
  fs::path root_;
};

}  // namespace

TEST_F(CatalogTree, EndToEnd) {
  write("de", "app", catalog("Nachricht", 300));
  write("fr", "app", catalog("Message fr", 300, /*big_endian=*/true));
  write("sr@latin", "app", catalog("Poruka", 50));
  write("en_GB", "app", catalog("Message", 300));
  write("ja", "legacy", xling::test::mo_bytes({{"", "Content-Type: text/plain; charset=EUC-JP\n"}, {"a", "\xA4\xA2"}}));
  write("de", "broken", "not a mo file at all, but long enough to have a header");
  // Duplicates across catalogs: the most frequent translation wins, ties by lexicographic order.
  write("de", "dup1", xling::test::mo_bytes({{"_Quit", "_Beenden"}, {"Close", "Zumachen"}, {"Untranslated", ""},
                                              {"Same", "Same"}, {"%s", "%s"}}));
  write("de", "dup2", xling::test::mo_bytes({{"&Quit", "B&eenden"}, {"Close", "Schließen"}}));
  write("de", "dup3", xling::test::mo_bytes({{"Quit", "Verlassen"}}));
  fs::create_directories(root_ / "dpkg");
  std::ofstream(root_ / "dpkg" / "app-l10n:amd64.list") << (root_ / "locale" / "de" / "LC_MESSAGES" / "app.mo").string() << "\n/usr/bin/x\n";

  CatalogOptions o = options();
  o.test_cap = 5;
  CatalogCorpus c = build_catalog_corpus(o);
  ASSERT_EQ(c.languages.size(), 3u);  // de, fr, sr-Latn; English and EUC-JP skipped
  EXPECT_TRUE(c.languages.count("sr-Latn"));
  EXPECT_EQ(c.dropped["file: charset euc-jp"], 1u);
  EXPECT_EQ(c.dropped["file: malformed .mo"], 1u);
  EXPECT_EQ(c.dropped["locale: English variant (files)"], 1u);
  EXPECT_EQ(c.dropped["pair: untranslated"], 1u);
  EXPECT_EQ(c.dropped["pair: identical to English"], 1u);
  EXPECT_EQ(c.dropped["pair: empty after normalisation"], 1u);

  // Every English string lies in one split only, across all languages; caps hold.
  std::map<std::string, std::string> split_of_en;
  auto see = [&](const CatalogPair& p, const std::string& split) {
    auto [it, fresh] = split_of_en.emplace(p.en, split);
    EXPECT_EQ(it->second, split) << p.en;
  };
  std::map<std::string, std::string> de;
  for (const auto& p : c.train) { see(p, "train"); if (p.lang == "de") de[p.en] = p.text; }
  for (const auto& p : c.dev) { see(p, "dev"); if (p.lang == "de") de[p.en] = p.text; }
  for (const auto& [lang, pairs] : c.test) {
    EXPECT_LE(pairs.size(), 5u);
    for (const auto& p : pairs) { see(p, "test"); if (p.lang == "de") de[p.en] = p.text; }
  }
  EXPECT_EQ(c.languages["de"].test, 5u);
  EXPECT_GT(c.languages["de"].test_over_cap, 0u);
  {
    CatalogOptions uncapped = o;
    uncapped.test_cap = 100000;
    std::map<std::string, std::string> all;
    CatalogCorpus u = build_catalog_corpus(uncapped);
    for (const auto* split : {&u.train, &u.dev, &u.test["de"]}) {
      for (const auto& p : *split) if (p.lang == "de") all[p.en] = p.text + "|" + p.domain;
    }
    EXPECT_EQ(all["Quit"], "Beenden|dup1");     // 2 of 3 catalogs; domain: the smallest name
    EXPECT_EQ(all["Close"], "Schließen|dup2");  // tie: lexicographically smaller translation
    EXPECT_EQ(u.languages["de"].conflicts, 2u);
  }
  // Test sets of different languages share their English strings (same hash choice).
  std::set<std::string> de_test, fr_test;
  for (const auto& p : c.test["de"]) de_test.insert(p.en);
  for (const auto& p : c.test["fr"]) fr_test.insert(p.en);
  std::size_t shared = 0;
  for (const auto& e : fr_test) shared += de_test.count(e);
  EXPECT_GE(shared, 4u);

  // Deterministic: a second run gives the same output; manifest names packages and hashes.
  fs::path out1 = root_ / "out1", out2 = root_ / "out2";
  write_catalog_corpus(c, o, out1.string());
  write_catalog_corpus(build_catalog_corpus(o), o, out2.string());
  for (const char* f : {"train.jsonl", "dev.jsonl", "test/de.jsonl", "manifest.json"}) {
    std::ifstream a(out1 / f), b(out2 / f);
    std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
    EXPECT_FALSE(sa.empty()) << f;
    EXPECT_EQ(sa, sb) << f;
  }
  std::ifstream mf(out1 / "manifest.json");
  auto m = nlohmann::json::parse(mf);
  bool found = false;
  for (const auto& f : m["files"]) {
    EXPECT_EQ(f["sha256"].get<std::string>().size(), f.contains("skipped") && f["size"] == 0 ? 0u : 64u);
    if (f["path"] == (root_ / "locale" / "de" / "LC_MESSAGES" / "app.mo").string()) {
      EXPECT_EQ(f["package"], "app-l10n");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(m["totals"]["languages"], 3);
  std::ifstream tr(out1 / "train.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(tr, line));
  auto row = nlohmann::json::parse(line);
  for (const char* k : {"lang", "en", "text", "domain"}) EXPECT_TRUE(row.contains(k)) << k;
}

TEST_F(CatalogTree, MinPairsAndErrors) {
  write("de", "app", catalog("Nachricht", 100));
  write("sr@latin", "app", catalog("Poruka", 10));
  CatalogOptions o = options();
  o.min_pairs = 50;
  CatalogCorpus c = build_catalog_corpus(o);
  EXPECT_EQ(c.languages.size(), 1u);
  EXPECT_EQ(c.small_languages.size(), 1u);
  o.locale_dir = (root_ / "missing").string();
  EXPECT_THROW(build_catalog_corpus(o), xling::IoError);
  std::ofstream(root_ / "file") << "x";
  EXPECT_THROW(write_catalog_corpus(c, o, (root_ / "file" / "out").string()), xling::IoError);
}
