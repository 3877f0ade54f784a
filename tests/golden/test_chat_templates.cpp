// Chat templates against transformers 5: the byte_level_bpe fixture's chat golden (text and
// ids), and the real templates of tests/data/chat_templates rendered by transformers' own
// render_jinja_template in tools/parity/make_chat_template_cases.py (expected.json): the text
// must be byte-identical, and where transformers raised, xling must raise with the same message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenize/chat_template.hpp"
#include "tokenize/text_tokenizer.hpp"

namespace xling::tokenize {
namespace {

using ojson = nlohmann::ordered_json;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  EXPECT_TRUE(f) << p;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(ChatGolden, ByteLevelBpeFixture) {
  const std::string dir = std::string(XLING_FIXTURES) + "/tokenizers/byte_level_bpe";
  ojson g = ojson::parse(slurp(dir + "/chat_golden.json"));
  ChatTemplate t(g["template"].get<std::string>(), dir + "/chat_golden.json");
  ChatRenderOptions opt;
  opt.add_generation_prompt = true;
  const std::string text = t.render(g["messages"], opt);
  EXPECT_EQ(text, g["rendered"].get<std::string>());
  // apply_chat_template(tokenize=True) encodes the text with add_special_tokens=False.
  auto tok = load_text_tokenizer(dir);
  auto enc = tok->encode(text, /*add_special=*/false);
  EXPECT_EQ(enc.ids, g["ids"].get<std::vector<int>>());
  // Without the generation prompt the text ends after the last message.
  opt.add_generation_prompt = false;
  const std::string no_prompt = t.render(g["messages"], opt);
  EXPECT_EQ(no_prompt + "<|im_start|>assistant\n", g["rendered"].get<std::string>());
}

struct Case {
  std::string name;
  ojson data;
};

std::vector<Case> load_cases() {
  const std::filesystem::path dir = XLING_CHAT_TEMPLATES;
  ojson all = ojson::parse(slurp(dir / "expected.json"));
  std::vector<Case> cases;
  for (const auto& c : all["cases"]) cases.push_back({c["id"].get<std::string>(), c});
  return cases;
}

TEST(ChatGolden, RealTemplatesMatchTransformers) {
  const std::filesystem::path dir = XLING_CHAT_TEMPLATES;
  auto cases = load_cases();
  ASSERT_GE(cases.size(), 50u);
  std::map<std::string, std::unique_ptr<ChatTemplate>> templates;
  std::size_t rendered = 0, raised = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string tname = c.data["template"].get<std::string>();
    if (!templates.count(tname)) {
      const auto path = dir / (tname + ".jinja");
      templates[tname] = std::make_unique<ChatTemplate>(slurp(path), path.string());
    }
    ChatRenderOptions opt;
    opt.add_generation_prompt = c.data["add_generation_prompt"].get<bool>();
    opt.extra = c.data["kwargs"];
    if (c.data.contains("error")) {
      // raise_exception raises jinja2's TemplateError itself; other errors are its subclasses.
      const bool by_template = c.data["error_type"].get<std::string>() == "TemplateError";
      try {
        templates[tname]->render(c.data["messages"], opt);
        ADD_FAILURE() << "transformers raised '" << c.data["error"].get<std::string>() << "', xling rendered";
      } catch (const jinja::TemplateRaised& e) {
        EXPECT_TRUE(by_template) << e.what();
        EXPECT_EQ(e.message(), c.data["error"].get<std::string>());
        ++raised;
      } catch (const jinja::TemplateError& e) {
        EXPECT_FALSE(by_template) << e.what();
      }
    } else {
      EXPECT_EQ(templates[tname]->render(c.data["messages"], opt), c.data["rendered"].get<std::string>());
      ++rendered;
    }
  }
  EXPECT_GT(rendered, 0u);
  EXPECT_GT(raised, 0u);
}

// Every template of the README is present and parses.
TEST(ChatGolden, EveryStoredTemplateParses) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(XLING_CHAT_TEMPLATES)) {
    if (e.path().extension() != ".jinja") continue;
    SCOPED_TRACE(e.path().string());
    EXPECT_NO_THROW(ChatTemplate(slurp(e.path()), e.path().string()));
    ++n;
  }
  EXPECT_GE(n, 10u);
}

}  // namespace
}  // namespace xling::tokenize
