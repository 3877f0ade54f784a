// `xling eval` end to end on examples/eval: the three report files, their consistency with
// each other, the HTML rendered by headless Chromium (non-blank, no console errors), and
// clear errors for broken suites.
#include <png.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../unit/test_util.hpp"

namespace fs = std::filesystem;

namespace {

using Result = xling::testing::CommandResult;

Result sh(const std::string& cmd) { return xling::testing::run_shell(cmd); }

const std::string kExample = std::string(XLING_SOURCE_DIR) + "/examples/eval";

std::string find_chromium() {
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (fs::exists(c)) return c;
  }
  return "";
}

// Share of pixels that are not (near) white, and the number of distinct colours.
std::pair<double, std::size_t> png_stats(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {0, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::fclose(f);
    return {0, 0};
  }
  png_init_io(png, f);
  png_read_info(png, info);
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_gray_to_rgb(png);
  png_set_filler(png, 0xFF, PNG_FILLER_AFTER);
  png_read_update_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  std::vector<png_byte> data(static_cast<std::size_t>(w) * h * 4);
  std::vector<png_bytep> rows(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = data.data() + static_cast<std::size_t>(y) * w * 4;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(f);
  std::size_t ink = 0;
  std::set<uint32_t> colours;
  for (std::size_t i = 0; i < data.size(); i += 4) {
    if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) ++ink;
    colours.insert((uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2]);
  }
  return {static_cast<double>(ink) / (static_cast<double>(w) * h), colours.size()};
}

}  // namespace

TEST(EvalReport, ExampleSuiteProducesConsistentReports) {
  xling::testing::ScratchDir dir;
  auto r = sh(std::string(XLING_BIN) + " eval --quiet --config " + kExample + "/suite.json --predictions " + kExample +
              "/predictions --output-dir " + dir.file("out"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto suite = nlohmann::json::parse(xling::testing::read_bytes(kExample + "/suite.json"));
  auto results = nlohmann::json::parse(xling::testing::read_bytes(dir.file("out/results.json")));
  ASSERT_EQ(results["tasks"].size(), suite["tasks"].size());
  EXPECT_FALSE(results["xling_version"].get<std::string>().empty());
  EXPECT_FALSE(results["date"].get<std::string>().empty());
  for (std::size_t i = 0; i < suite["tasks"].size(); ++i) {
    const auto& st = suite["tasks"][i];
    const auto& rt = results["tasks"][i];
    EXPECT_EQ(rt["name"], st["name"]);
    ASSERT_EQ(rt["metrics"].size(), st["metrics"].size());
    for (const auto& m : rt["metrics"]) {
      EXPECT_EQ(m["per_language"].size(), st["languages"].size()) << st["name"];
      double lo = 1e300, hi = -1e300;
      for (const auto& [lang, v] : m["per_language"].items()) {
        lo = std::min(lo, v["value"].get<double>());
        hi = std::max(hi, v["value"].get<double>());
      }
      EXPECT_GE(m["macro_mean"].get<double>(), lo - 1e-9);
      EXPECT_LE(m["macro_mean"].get<double>(), hi + 1e-9);
      if (m["metric"] == "bleu" || m["metric"] == "chrf++") {
        EXPECT_NE(m["signature"].get<std::string>().find("version:2.6.0"), std::string::npos);
      }
    }
    if (st.contains("source_language")) EXPECT_TRUE(rt["metrics"][0].contains("transfer_gap"));
    if (st.value("parallel", false)) {
      double c = rt["consistency"].get<double>();
      EXPECT_GE(c, 0.0);
      EXPECT_LE(c, 1.0);
    }
  }
  std::string md = xling::testing::read_bytes(dir.file("out/results.md"));
  for (const auto& t : suite["tasks"]) EXPECT_NE(md.find(t["name"].get<std::string>()), std::string::npos);
  std::string html = xling::testing::read_bytes(dir.file("out/report.html"));
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // self-contained, no JS
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no external resources
  EXPECT_EQ(html.find("https://"), std::string::npos);

  std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed (make test installs it)";
  std::string png = dir.file("report.png");
  auto c = sh(chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1600"
                         " --enable-logging=stderr --v=0 --screenshot=" + png + " file://" + dir.file("out/report.html"));
  ASSERT_TRUE(fs::exists(png)) << c.err;
  EXPECT_EQ(c.err.find("Uncaught"), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find(":CONSOLE("), std::string::npos) << c.err;
  auto [ink, colours] = png_stats(png);
  EXPECT_GT(ink, 0.02) << "the rendered report is (nearly) blank";
  EXPECT_GT(colours, 20u) << "the rendered report has almost no colours: charts missing?";
  if (const char* keep = std::getenv("XLING_KEEP_SCREENSHOT")) fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
}

TEST(EvalReport, BrokenSuitesAreClearErrors) {
  xling::testing::ScratchDir dir;
  fs::copy(kExample, dir.file("ex"), fs::copy_options::recursive);
  const std::string bin = XLING_BIN;
  auto run = [&](const std::string& extra = "") {
    return sh(bin + " eval --quiet --config " + dir.file("ex/suite.json") + " --predictions " + dir.file("ex/predictions") +
              " --output-dir " + dir.file("out") + extra);
  };
  ASSERT_EQ(run().code, 0);
  // A prediction file with one line too few.
  std::string pf = dir.file("ex/predictions/country-or-language/de.jsonl");
  std::string content = xling::testing::read_bytes(pf);
  xling::testing::write_bytes(pf, content.substr(0, content.rfind('\n', content.size() - 2) + 1));
  auto r = run();
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("de.jsonl"), std::string::npos) << r.err;
  xling::testing::write_bytes(pf, content);
  // A missing language file.
  fs::remove(dir.file("ex/data/translation/fr.jsonl"));
  r = run();
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("fr.jsonl"), std::string::npos) << r.err;
  fs::copy_file(kExample + "/data/translation/fr.jsonl", dir.file("ex/data/translation/fr.jsonl"));
  // Unknown metric, invalid UTF-8, no predictions.
  auto suite = nlohmann::json::parse(xling::testing::read_bytes(dir.file("ex/suite.json")));
  suite["tasks"][0]["metrics"] = {"bleurt"};
  xling::testing::write_bytes(dir.file("ex/bad-suite.json"), suite.dump());
  r = sh(bin + " eval --quiet --config " + dir.file("ex/bad-suite.json") + " --predictions " + dir.file("ex/predictions"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bleurt"), std::string::npos) << r.err;
  xling::testing::write_bytes(dir.file("ex/data/classification/es.jsonl"), "{\"text\": \"\xff\", \"label\": \"country\"}\n");
  r = run();
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("es.jsonl:1"), std::string::npos) << r.err;
  r = sh(bin + " eval --quiet --config " + dir.file("ex/suite.json"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--predictions"), std::string::npos) << r.err;
}
