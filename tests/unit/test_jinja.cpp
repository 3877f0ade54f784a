// Unit tests of xling's Jinja subset (chat templates): each construct, whitespace control as
// transformers configures jinja2 (trim_blocks, lstrip_blocks), loop variables, namespaces,
// Python value semantics, and the errors (unsupported constructs with line/column, unterminated
// tags, unknown filters, raise_exception, depth and output limits). Expected strings are what
// jinja2 3.1 renders under transformers' environment.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenize/chat_template.hpp"
#include "tokenize/jinja_parser.hpp"
#include "tokenize/jinja_render.hpp"

namespace xling::tokenize {
namespace {

using jinja::TemplateError;
using jinja::TemplateRaised;
using ojson = nlohmann::ordered_json;

std::string R(const std::string& tmpl, const ojson& vars = ojson::object(), jinja::RenderLimits limits = {}) {
  auto t = jinja::parse(tmpl);
  jinja::Dict d;
  for (const auto& [k, v] : vars.items()) d.set(k, jinja::Value::from_json(v));
  return jinja::render(*t, d, limits);
}

std::string error_of(const std::string& tmpl, const ojson& vars = ojson::object(), jinja::RenderLimits limits = {}) {
  try {
    R(tmpl, vars, limits);
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Jinja, TextOutputAndComments) {
  EXPECT_EQ(R("hello"), "hello");
  EXPECT_EQ(R("a{{ 'b' }}c"), "abc");
  EXPECT_EQ(R("a{# comment {{ x }} #}c"), "ac");
  EXPECT_EQ(R("{{ x }}", {{"x", "é ✓ 中文"}}), "é ✓ 中文");
  EXPECT_EQ(R(""), "");
}

TEST(Jinja, TrailingNewlineDroppedAndNewlinesNormalized) {
  EXPECT_EQ(R("a\n"), "a");
  EXPECT_EQ(R("a\n\n"), "a\n");
  EXPECT_EQ(R("a\r\nb\rc"), "a\nb\nc");
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(R("a  \n {{- 'b' -}} \n c"), "abc");
  EXPECT_EQ(R("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(R("a {#- c -#} b"), "ab");
  // '+' disables lstrip_blocks
  EXPECT_EQ(R("x\n  {%+ if true %}y{% endif %}"), "x\n  y");
}

TEST(Jinja, TrimBlocksAndLstripBlocks) {
  // trim_blocks: the newline after a block tag goes; lstrip_blocks: indentation before it.
  EXPECT_EQ(R("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
  EXPECT_EQ(R("line\n    {% if true %}\n    body\n    {% endif %}\nend"), "line\n    body\nend");
  // not for variable tags
  EXPECT_EQ(R("  {{ 'v' }}\nx"), "  v\nx");
  // comments are trimmed too
  EXPECT_EQ(R("a\n  {# c #}\nb"), "a\nb");
  // only a single newline
  EXPECT_EQ(R("{% if true %}\n\nx{% endif %}"), "\nx");
  // text before the tag on the same line is kept
  EXPECT_EQ(R("a  {% if true %}b{% endif %}"), "a  b");
}

TEST(Jinja, IfElifElse) {
  const std::string t = "{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}";
  EXPECT_EQ(R(t, {{"x", 1}}), "one");
  EXPECT_EQ(R(t, {{"x", 2}}), "two");
  EXPECT_EQ(R(t, {{"x", 3}}), "many");
  EXPECT_EQ(R("{% if none %}a{% endif %}b"), "b");
}

TEST(Jinja, ForLoopVariables) {
  EXPECT_EQ(R("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
              "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
              {{"xs", {"a", "b"}}}),
            "1021TrueFalse2;2110FalseTrue2;");
  EXPECT_EQ(R("{% for x in xs %}{{ loop.previtem }}|{{ loop.nextitem }};{% endfor %}", {{"xs", {1, 2, 3}}}),
            "|2;1|3;2|;");
}

TEST(Jinja, ForElseFilterAndUnpacking) {
  EXPECT_EQ(R("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(R("{% for x in xs if x > 1 %}{{ x }}{{ loop.index }}{{ loop.length }} {% endfor %}", {{"xs", {1, 2, 3}}}),
            "212 322 ");
  EXPECT_EQ(R("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {{"d", {{"b", 1}, {"a", 2}}}}), "b=1;a=2;");
  EXPECT_EQ(R("{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}", {{"d", {{"z", 1}}}}), "z=1;");
  EXPECT_EQ(R("{% for k in d %}{{ k }}{% endfor %}", {{"d", {{"x", 1}, {"y", 2}}}}), "xy");
  EXPECT_EQ(R("{% for c in 'añb' %}[{{ c }}]{% endfor %}"), "[a][ñ][b]");
  EXPECT_EQ(R("{% for x in undefined_thing %}x{% endfor %}ok"), "ok");
}

TEST(Jinja, BreakAndContinue) {
  EXPECT_EQ(R("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "012");
  EXPECT_EQ(R("{% for x in range(5) %}{% if x is odd %}{% continue %}{% endif %}{{ x }}{% endfor %}"), "024");
}

TEST(Jinja, LoopScopingAsJinja2) {
  // A set inside a loop body lives for that iteration only (jinja2 semantics).
  EXPECT_EQ(R("{% for i in range(3) %}{% if i == 0 %}{% set x = 'a' %}{% endif %}[{{ x }}]{% endfor %}"), "[a][][]");
  EXPECT_EQ(R("{% set x = 1 %}{% for i in range(3) %}{% set x = x + 1 %}[{{ x }}]{% endfor %}{{ x }}"), "[2][2][2]1");
  // if blocks do not scope
  EXPECT_EQ(R("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
}

TEST(Jinja, NamespaceAttributeAssignment) {
  EXPECT_EQ(R("{% set ns = namespace(n=0, found=false) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}"
              "{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.n }} {{ ns.found }}"),
            "6 True");
  EXPECT_NE(error_of("{% set d = {} %}{% set d.x = 1 %}").find("namespace"), std::string::npos);
}

TEST(Jinja, SetTupleAndBlockSet) {
  EXPECT_EQ(R("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_EQ(R("{% set s %}x{{ 1 + 1 }}y{% endset %}[{{ s }}]"), "[x2y]");
}

TEST(Jinja, Macros) {
  EXPECT_EQ(R("{% macro greet(name, p='Hi') %}{{ p }} {{ name }}{% endmacro %}{{ greet('A') }}|{{ greet('B', p='Yo') }}"),
            "Hi A|Yo B");
}

TEST(Jinja, GenerationBlockRendersItsBody) { EXPECT_EQ(R("a{% generation %}b{% endgeneration %}c"), "abc"); }

TEST(Jinja, AttributeAndSubscript) {
  ojson m = {{"role", "user"}, {"content", "hi"}};
  EXPECT_EQ(R("{{ m.role }}{{ m['role'] }}{{ m.get('content') }}{{ m.get('x', 'd') }}{{ m.get('x') }}", {{"m", m}}),
            "useruserhidNone");
  EXPECT_EQ(R("{{ m.missing }}|{{ m['missing'] }}|{{ m.missing is defined }}", {{"m", m}}), "||False");
  EXPECT_EQ(R("{{ xs[0] }}{{ xs[-1] }}{{ xs[5] is defined }}", {{"xs", {1, 2, 3}}}), "13False");
  EXPECT_EQ(R("{{ ms[0]['role'] }}", {{"ms", {m}}}), "user");
}

TEST(Jinja, Slicing) {
  EXPECT_EQ(R("{{ 'abcdef'[1:3] }}|{{ 'abcdef'[::-1] }}|{{ 'abcdef'[::2] }}|{{ 'abcdef'[-2:] }}|{{ 'añb'[1] }}"),
            "bc|fedcba|ace|ef|ñ");
  EXPECT_EQ(R("{{ xs[1:] }}|{{ xs[:-1] }}|{{ xs[::-1] }}|{{ xs[5:] }}", {{"xs", {1, 2, 3}}}), "[2, 3]|[1, 2]|[3, 2, 1]|[]");
  EXPECT_NE(error_of("{{ 'ab'[::0] }}").find("slice step cannot be zero"), std::string::npos);
}

TEST(Jinja, UndefinedBehavesLikeJinja2Default) {
  EXPECT_EQ(R("[{{ nope }}]"), "[]");
  EXPECT_EQ(R("{{ nope is defined }}{{ nope is undefined }}{{ nope | length }}{{ 'a' ~ nope ~ 'b' }}"), "FalseTrue0ab");
  EXPECT_EQ(R("{% if nope %}y{% else %}n{% endif %}"), "n");
  EXPECT_NE(error_of("{{ nope.attr }}").find("'nope' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ nope + 'a' }}").find("'nope' is undefined"), std::string::npos);
}

TEST(Jinja, ValuesPrintLikePython) {
  EXPECT_EQ(R("{{ 1.0 }} {{ 1e20 }} {{ 1e16 }} {{ 0.0001 }} {{ 0.00001 }} {{ 3/2 }} {{ 4/2 }}"),
            "1.0 1e+20 1e+16 0.0001 1e-05 1.5 2.0");
  EXPECT_EQ(R("{{ [1,'a',none,true,{'k':'v'}] }} {{ (1,2) }} {{ (1,) }} {{ \"it's\" }}"),
            "[1, 'a', None, True, {'k': 'v'}] (1, 2) (1,) it's");
  EXPECT_EQ(R("{{ [\"it's\"] }}"), "[\"it's\"]");
  EXPECT_EQ(R("{{ true }} {{ none }} {{ false }}"), "True None False");
}

TEST(Jinja, Arithmetic) {
  EXPECT_EQ(R("{{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 'a' * 3 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }}"),
            "3 -4 2 1024 aaa 7 9 4");
  EXPECT_EQ(R("{{ 'a' + 'b' }}{{ [1] + [2] }}{{ 'a' ~ 1 ~ none }}"), "ab[1, 2]a1None");
  EXPECT_NE(error_of("{{ 'a' + 1 }}").find("can only concatenate str (not \"int\") to str"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 // 0 }}").find("division or modulo by zero"), std::string::npos);
  EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("integer overflow"), std::string::npos);
}

TEST(Jinja, LogicComparisonsAndMembership) {
  EXPECT_EQ(R("{{ 'a' in 'cat' }} {{ 1 in [1,2] }} {{ 'k' in {'k':1} }} {{ 3 not in [1] }} {{ 1 == 1.0 }} {{ true == 1 }}"),
            "True True True True True True");
  EXPECT_EQ(R("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }}"),
            "True False True True True");
  EXPECT_EQ(R("{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not 0 }} {{ none or [] }}"), "x y True []");
  EXPECT_EQ(R("{{ 'y' if x else 'n' }}{{ 'z' if not x }}", {{"x", false}}), "nz");
  EXPECT_EQ(R("[{{ 'y' if x }}]", {{"x", false}}), "[]");
}

TEST(Jinja, Tests) {
  EXPECT_EQ(R("{{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ 'a' is iterable }} {{ 1 is number }}"
              " {{ 'a' is sequence }} {{ 1 is string }} {{ x is not none }} {{ 3 is divisibleby 3 }} {{ 2 is even }}",
              {{"x", 1}}),
            "True True True True True True False True True True");
  EXPECT_EQ(R("{{ [] is iterable }} {{ 1 is iterable }} {{ 'x' is eq 'x' }} {{ 'x' is equalto('y') }}"), "True False True False");
}

TEST(Jinja, Filters) {
  EXPECT_EQ(R("{{ '  a b \n'|trim }}|{{ 'xax'|trim('x') }}|{{ [1,2]|length }}|{{ 'ñé'|length }}|{{ 'aB'|upper }}{{ 'aB'|lower }}"),
            "a b|a|2|2|ABab");
  EXPECT_EQ(R("{{ 'hello world-x'|title }}|{{ 'hELLO wORLD'|capitalize }}|{{ [1,2,3]|join(', ') }}|{{ ['a','b']|join }}"),
            "Hello World-X|Hello world|1, 2, 3|ab");
  EXPECT_EQ(R("{{ [1,2]|first }}{{ [1,2]|last }}{{ 'abc'|first }}|{{ x|default('d') }}|{{ ''|default('d', true) }}|{{ ''|d('q') }}"),
            "12a|d|d|");
  EXPECT_EQ(R("{{ 'aXbX'|replace('X', '-') }}|{{ 5|string }}|{{ '42'|int }}|{{ 3.9|int }}|{{ 'x'|int }}|{{ '2.5'|float }}"),
            "a-b-|5|42|3|0|2.5");
  EXPECT_EQ(R("{{ 'ab'|list }}|{{ {'a': 1}|items|list }}|{{ -3|abs }}|{{ [1,2]|reverse|list }}|{{ 'x'|safe }}"),
            "['a', 'b']|[('a', 1)]|3|[2, 1]|x");
  ojson ms = ojson::array({{{"role", "user"}, {"c", 1}}, {{"role", "tool"}, {"c", 2}}, {{"role", "user"}, {"c", 3}}});
  EXPECT_EQ(R("{{ ms|selectattr('role', 'equalto', 'user')|map(attribute='c')|list }}|"
              "{{ ms|rejectattr('role', 'equalto', 'user')|map(attribute='c')|join }}|"
              "{{ ms|selectattr('missing', 'undefined')|list|length }}|{{ [0, 1, 2]|select|list }}",
              {{"ms", ms}}),
            "[1, 3]|2|3|[1, 2]");
  EXPECT_EQ(R("{{ ['a', 'b']|map('upper')|join }}"), "AB");
}

TEST(Jinja, ToJsonAsTransformers) {
  EXPECT_EQ(R("{{ {'b': 1, 'a': [1, 2, {'c': 'é\"\\n'}], 'n': none, 't': true, 'f': 1.5}|tojson }}"),
            "{\"b\": 1, \"a\": [1, 2, {\"c\": \"é\\\"\\n\"}], \"n\": null, \"t\": true, \"f\": 1.5}");
  EXPECT_EQ(R("{{ {'b': 1, 'a': []}|tojson(indent=2) }}"), "{\n  \"b\": 1,\n  \"a\": []\n}");
  EXPECT_EQ(R("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"), "{\"a\": 2, \"b\": 1}");
  EXPECT_EQ(R("{{ 'é'|tojson(ensure_ascii=true) }}"), "\"\\u00e9\"");
  EXPECT_EQ(R("{{ x|tojson }}", {{"x", {{"z", 1}, {"a", 2}}}}), "{\"z\": 1, \"a\": 2}");  // insertion order kept
  EXPECT_NE(error_of("{{ nope|tojson }}").find("not JSON serializable"), std::string::npos);
}

TEST(Jinja, StringMethods) {
  EXPECT_EQ(R("{{ ' x '.strip() }}|{{ 'xax'.strip('x') }}|{{ ' x '.lstrip() }}|{{ ' x '.rstrip() }}|{{ 'a b  c'.split() }}|"
              "{{ 'a,b'.split(',') }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'hello world'.title() }}|"
              "{{ 'ab'.upper() }}|{{ 'a-b'.replace('-', '+') }}"),
            "x|a|x | x|['a', 'b', 'c']|['a', 'b']|True|True|Hello World|AB|a+b");
  EXPECT_EQ(R("{{ d.keys()|list }}{{ d.values()|list }}", {{"d", {{"k", "v"}}}}), "['k']['v']");
  EXPECT_NE(error_of("{{ [1].append(2) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(error_of("{{ 'a'.format(1) }}").find("unsupported Jinja construct 'str.format()'"), std::string::npos);
}

TEST(Jinja, StringLiteralsAndEscapes) {
  EXPECT_EQ(R("{{ 'a\\nb' }}|{{ \"tab\\tx\" }}|{{ 'it\\'s' }}|{{ '\\u00e9' }}|{{ 'ab' 'cd' }}"), "a\nb|tab\tx|it's|é|abcd");
  EXPECT_EQ(R("{{ '{{x}}' }}"), "{{x}}");
}

TEST(Jinja, Globals) {
  EXPECT_EQ(R("{{ range(3)|list }}{{ range(1, 7, 2)|list }}"), "[0, 1, 2][1, 3, 5]");
  EXPECT_EQ(R("{{ strftime_now('%Y')|length }}"), "4");
  try {
    R("{% if true %}\n  {{ raise_exception('roles must alternate') }}{% endif %}");
    FAIL() << "no exception";
  } catch (const TemplateRaised& e) {
    EXPECT_EQ(e.message(), "roles must alternate");
  }
}

TEST(Jinja, UnsupportedConstructNamedWithLineAndColumn) {
  EXPECT_EQ(error_of("line one\nab {% call foo() %}x{% endcall %}"),
            "unsupported Jinja construct 'call' at line 2, column 7");
  EXPECT_EQ(error_of("{% include 'x.jinja' %}"), "unsupported Jinja construct 'include' at line 1, column 4");
  EXPECT_EQ(error_of("{% raw %}x{% endraw %}"), "unsupported Jinja construct 'raw' at line 1, column 1");
  EXPECT_EQ(error_of("{{ x | nosuchfilter }}"), "unsupported Jinja filter 'nosuchfilter' at line 1, column 8");
  EXPECT_EQ(error_of("{{ x is nosuchtest }}"), "unsupported Jinja test 'nosuchtest' at line 1, column 9");
  EXPECT_NE(error_of("{% for x in xs recursive %}{% endfor %}").find("'recursive'"), std::string::npos);
}

TEST(Jinja, SyntaxErrors) {
  EXPECT_EQ(error_of("a {{ x "), "unterminated variable tag '{{' (missing '}}') at line 1, column 3");
  EXPECT_EQ(error_of("{% if x %}"), "unexpected end of template: expected 'elif' or 'else' or 'endif' at line 1, column 11");
  EXPECT_EQ(error_of("{# never closed"), "Missing end of comment tag at line 1, column 1");
  EXPECT_EQ(error_of("{% endfor %}"), "unexpected 'endfor' (no open block it closes) at line 1, column 4");
  EXPECT_EQ(error_of("{% break %}"), "'break' outside of a loop at line 1, column 4");
  EXPECT_EQ(error_of("{{ 'abc }}"), "unterminated string literal at line 1, column 4");
  EXPECT_EQ(error_of("{{ (1 }}"), "unexpected '}', expected ')' at line 1, column 7");
}

TEST(Jinja, RuntimeErrorsNameThePosition) {
  EXPECT_EQ(error_of("ok\n{{ messages[0].role.x.y }}", {{"messages", ojson::array()}}),
            "'list object' has no element 0 at line 2, column 15");
}

TEST(Jinja, NestingDepthIsLimited) {
  std::string deep(5000, '(');
  deep = "{{ " + deep + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(error_of(deep).find("nesting deeper than"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 2000; ++i) blocks += "{% if true %}";
  EXPECT_NE(error_of(blocks).find("nesting deeper than"), std::string::npos);
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested deeper than"), std::string::npos);
}

TEST(Jinja, OutputAndStepsAreLimited) {
  jinja::RenderLimits small;
  small.max_output_bytes = 1000;
  EXPECT_NE(error_of("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", ojson::object(), small).find("output exceeds"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000 }}", ojson::object(), small).find("exceeds the limit of 1000 bytes"), std::string::npos);
  jinja::RenderLimits few;
  few.max_steps = 1000;
  EXPECT_NE(error_of("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", ojson::object(), few)
                .find("evaluation steps"),
            std::string::npos);
}

// ---------------------------------------------------------------- ChatTemplate (directories)

class ChatDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("xling_chat_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::filesystem::path dir_;
};

const ojson kMessages = ojson::array({{{"role", "user"}, {"content", "hi"}}});

TEST_F(ChatDir, JinjaFileWinsOverConfig) {
  write("tokenizer_config.json", R"({"chat_template": "config", "bos_token": "<s>",
      "eos_token": {"content": "</s>", "special": true}})");
  write("chat_template.jinja", "{{ bos_token }}jinja{{ eos_token }}{{ pad_token }}\n");
  auto t = ChatTemplate::from_directory(dir_.string());
  EXPECT_EQ(t.render(kMessages), "<s>jinja</s>");
  EXPECT_EQ(t.source(), (dir_ / "chat_template.jinja").string());
}

TEST_F(ChatDir, JsonFileThenConfigString) {
  write("tokenizer_config.json", R"({"chat_template": "config {{ messages[0].content }}"})");
  EXPECT_EQ(ChatTemplate::from_directory(dir_.string()).render(kMessages), "config hi");
  write("chat_template.json", R"({"chat_template": "json"})");
  EXPECT_EQ(ChatTemplate::from_directory(dir_.string()).render(kMessages), "json");
}

TEST_F(ChatDir, NamedTemplatesInConfigList) {
  write("tokenizer_config.json",
        R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T{{ tools|length }}"}]})");
  EXPECT_EQ(ChatTemplate::from_directory(dir_.string()).render(kMessages), "D");
  ChatRenderOptions opt;
  opt.extra = {{"tools", ojson::array({{{"name", "f"}}})}};
  EXPECT_EQ(ChatTemplate::from_directory(dir_.string(), "tool_use").render(kMessages, opt), "T1");
  try {
    ChatTemplate::from_directory(dir_.string(), "rag");
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("no chat template named 'rag' (available chat templates: default, tool_use)"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(ChatDir, MissingTemplateIsATypedError) {
  // BLOOMZ's tokenizer_config.json has no chat template.
  write("tokenizer_config.json", R"({"add_prefix_space": false, "bos_token": "<s>", "eos_token": "</s>",
      "model_max_length": 1000000000000000019884624838656, "pad_token": "<pad>", "padding_side": "left",
      "tokenizer_class": "BloomTokenizer", "unk_token": "<unk>"})");
  try {
    ChatTemplate::from_directory(dir_.string());
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(dir_.string() + ": no chat template found"), std::string::npos) << e.what();
  }
}

TEST_F(ChatDir, ErrorsNameTheTemplateFile) {
  write("tokenizer_config.json", R"({"chat_template": "line one\n  {% call x() %}{% endcall %}"})");
  try {
    ChatTemplate::from_directory(dir_.string());
    FAIL() << "no exception";
  } catch (const TemplateError& e) {
    EXPECT_EQ(std::string(e.what()), "unsupported Jinja construct 'call' at line 2, column 6 of the chat template in " +
                                         (dir_ / "tokenizer_config.json").string());
  }
}

TEST_F(ChatDir, SpecialTokensMapOverridesConfigAndKwargsOverrideBoth) {
  write("tokenizer_config.json", R"({"chat_template": "{{ bos_token }}|{{ unk_token }}", "bos_token": "<a>", "unk_token": "<u>"})");
  write("special_tokens_map.json", R"({"bos_token": {"content": "<b>"}})");
  auto t = ChatTemplate::from_directory(dir_.string());
  EXPECT_EQ(t.render(kMessages), "<b>|<u>");
  ChatRenderOptions opt;
  opt.extra = {{"bos_token", "<c>"}};
  EXPECT_EQ(t.render(kMessages, opt), "<c>|<u>");
}

TEST(ChatTemplateApi, DefaultsAsTransformers) {
  ChatTemplate t("{{ add_generation_prompt }} {{ tools }} {{ documents }} {{ tools is defined }}", "inline");
  EXPECT_EQ(t.render(kMessages), "False None None True");
  ChatRenderOptions opt;
  opt.add_generation_prompt = true;
  EXPECT_EQ(t.render(kMessages, opt), "True None None True");
  // nlohmann::json (sorted keys) is accepted too
  ChatTemplate u("{{ messages[0].content }}", "inline");
  EXPECT_EQ(u.render(nlohmann::json::array({{{"role", "user"}, {"content", "x"}}})), "x");
}

TEST(ChatTemplateApi, RaiseExceptionCarriesTheMessage) {
  ChatTemplate t("{{ raise_exception('System role not supported') }}", "inline");
  try {
    t.render(kMessages);
    FAIL() << "no exception";
  } catch (const TemplateRaised& e) {
    EXPECT_EQ(e.message(), "System role not supported");
    EXPECT_NE(std::string(e.what()).find("of the chat template in inline"), std::string::npos);
  }
}

}  // namespace
}  // namespace xling::tokenize
