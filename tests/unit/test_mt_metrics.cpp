// Unit tests of the sacrebleu-compatible MT metrics on small hand-made cases: tokenizer
// outputs (13a, intl, zh with its range quirk, char), Python string semantics (whitespace
// set, str.lower's final sigma), BLEU / chrF / TER edge cases (empty hypothesis or
// reference, multiple references, smoothing) and input errors. Expected values were
// computed with sacrebleu 2.6.0.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "metrics/bleu.hpp"
#include "metrics/chrf.hpp"
#include "metrics/sacrebleu_tokenizers.hpp"
#include "metrics/ter.hpp"
#include "xling/errors.hpp"

namespace xm = xling::metrics;

namespace {

// sacrebleu's values are reproduced bit for bit; a tiny tolerance keeps the message readable.
void expect_close(double actual, double expected) {
  EXPECT_NEAR(actual, expected, 1e-12 * std::max(1.0, std::fabs(expected))) << "expected " << expected;
}

std::vector<std::string> split_views(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view w : xm::python_split(s)) out.emplace_back(w);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- tokenizers

TEST(SacrebleuTokenizers, Tokenizer13a) {
  EXPECT_EQ(xm::tokenize_13a("Hello, world!"), "Hello , world !");
  EXPECT_EQ(xm::tokenize_13a("3.14 and 1,000 end."), "3.14 and 1,000 end .");
  EXPECT_EQ(xm::tokenize_13a("2-3 a-b x's $5 (a) [b] {c} @d #e"), "2 - 3 a-b x's $ 5 ( a ) [ b ] { c } @ d # e");
  EXPECT_EQ(xm::tokenize_13a("<skipped>x y<skipped>"), "x y");
  EXPECT_EQ(xm::tokenize_13a("&quot;hi&quot; &amp; &lt;b&gt; &amp;quot;"), "\" hi \" & < b > & quot ;");
  EXPECT_EQ(xm::tokenize_13a("line-\nbreak a\nb"), "linebreak a b");
  EXPECT_EQ(xm::tokenize_13a("a..b ,,c 5.a a.5"), "a . . b , , c 5 . a a . 5");
  EXPECT_EQ(xm::tokenize_13a(""), "");
}

TEST(SacrebleuTokenizers, TokenizerIntl) {
  // A number keeps its decimal separator and its sentence-final period (as mteval-v14).
  EXPECT_EQ(xm::tokenize_intl("Hello, world! 3.14 1,000."), "Hello , world ! 3.14 1,000.");
  EXPECT_EQ(xm::tokenize_intl("na\u00efve\u2014test \u00abquote\u00bb \u20ac5 x+y=z"),
            "na\u00efve \u2014 test \u00ab quote \u00bb \u20ac 5 x + y = z");
  EXPECT_EQ(xm::tokenize_intl("l'homme (test) 2.5% \u0661\u0662\u0663."),
            "l ' homme ( test ) 2.5 % \u0661\u0662\u0663.");
  // Punctuation and symbols assigned after Unicode 15 (the `regex` module knows them).
  EXPECT_EQ(xm::tokenize_intl("a\u2e61b \u20c1x"), "a \u2e61 b \u20c1 x");
}

TEST(SacrebleuTokenizers, TokenizerZh) {
  EXPECT_EQ(xm::tokenize_zh("\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002"),
            "\u6211 \u7231 \u5317 \u4eac \u5929 \u5b89 \u95e8 \u3002");
  // sacrebleu's '\u20000' range is really U+2001..U+2A6D (general punctuation included), and
  // Extension B stays unsplit.
  EXPECT_EQ(xm::tokenize_zh("a\u2014b \u201cc\u201d x\U00020000y"), "a \u2014 b \u201c c \u201d x\U00020000y");
  EXPECT_EQ(xm::tokenize_zh("  \u5168\u89d2\uff21\uff22\uff11 and 3.5 "),
            "\u5168 \u89d2 \uff21 \uff22 \uff11 and 3.5");
  EXPECT_EQ(xm::tokenize_zh("\u2603snow \u2f00 \u2f01"), "\u2603 snow \u2f00 \u2f01");
}

TEST(SacrebleuTokenizers, CharAndNoneAndNames) {
  EXPECT_EQ(xm::tokenize_char("ab c"), "a b   c");
  EXPECT_EQ(xm::tokenize_char("\u00e9\u6211"), "\u00e9 \u6211");
  EXPECT_EQ(xm::tokenize(" a  b ", xm::BleuTokenizer::kNone), " a  b ");
  for (const char* name : {"13a", "intl", "zh", "char", "none"}) {
    auto t = xm::parse_bleu_tokenizer(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(xm::bleu_tokenizer_name(*t), name);
  }
  EXPECT_FALSE(xm::parse_bleu_tokenizer("ja-mecab").has_value());
  EXPECT_FALSE(xm::parse_bleu_tokenizer("13A").has_value());
}

TEST(PythonStrings, WhitespaceSetSplitStrip) {
  // NBSP, ideographic space, \x1c and \x85 are whitespace in Python; ZWSP is not.
  EXPECT_EQ(split_views("a\u00a0b\u3000c\x1c" "d\u200be \u0085f"),
            (std::vector<std::string>{"a", "b", "c", "d\u200be", "f"}));
  EXPECT_TRUE(split_views(" \t\u2028 ").empty());
  EXPECT_EQ(xm::python_rstrip("x y \u3000\t"), "x y");
  EXPECT_EQ(xm::python_strip("\u00a0 x y \u2009"), "x y");
  EXPECT_EQ(xm::python_normalize_spaces("  a \t b\u00a0 "), "a b");
  EXPECT_FALSE(xm::is_python_space(0x180E));
  EXPECT_TRUE(xm::is_python_space(0x1F));
}

TEST(PythonStrings, LowerWithFinalSigma) {
  EXPECT_EQ(xm::python_lower("ABC d\u00c9"), "abc d\u00e9");
  EXPECT_EQ(xm::python_lower("\u0130"), "i\u0307");
  EXPECT_EQ(xm::python_lower("\u039f\u0394\u039f\u03a3"), "\u03bf\u03b4\u03bf\u03c2");  // final
  EXPECT_EQ(xm::python_lower("\u03a3\u0391"), "\u03c3\u03b1");                           // initial
  EXPECT_EQ(xm::python_lower("\u03a3"), "\u03c3");                                       // alone
  EXPECT_EQ(xm::python_lower("A\u03a3."), "a\u03c2.");
  EXPECT_EQ(xm::python_lower("A\u03a3'b"), "a\u03c3'b");  // apostrophe is case-ignorable
  EXPECT_EQ(xm::python_lower("\u00aa\u03a3"), "\u00aa\u03c2");  // U+00AA is cased (Other_Lowercase)
}

TEST(PythonStrings, InvalidUtf8IsAnError) {
  EXPECT_THROW(xm::validate_utf8("ok\xff", "test"), xling::InvalidArgument);
  EXPECT_THROW(xm::validate_utf8("\xed\xa0\x80", "surrogate"), xling::InvalidArgument);
  EXPECT_THROW(xm::validate_utf8("\xc0\xaf", "overlong"), xling::InvalidArgument);
  EXPECT_NO_THROW(xm::validate_utf8("\u00e9\U0001F600", "fine"));
  // The tokenizers themselves never read past a truncated sequence.
  for (const char* bad : {"a\xe2", "\xe2\x80", "x \xc2", "\xf0\x9f\x98"}) {
    for (auto tok : {xm::BleuTokenizer::k13a, xm::BleuTokenizer::kIntl, xm::BleuTokenizer::kZh,
                     xm::BleuTokenizer::kChar}) {
      EXPECT_NO_THROW(xm::bleu_tokenize(bad, tok, /*lowercase=*/true));
    }
  }
  try {
    xm::corpus_bleu({"fine", "bad \xc3"}, {{"a", "b"}}, {});
    FAIL() << "no exception";
  } catch (const xling::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("hypothesis 2"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- BLEU

TEST(Bleu, IdenticalSentence) {
  xm::BleuScore s = xm::corpus_bleu({"the cat sat on the mat"}, {{"the cat sat on the mat"}}, {});
  EXPECT_EQ(s.score, 100.00000000000004);  // sacrebleu's value, last bit included
  EXPECT_EQ(s.bp, 1.0);
  EXPECT_EQ(s.counts, (std::vector<int64_t>{6, 5, 4, 3}));
  EXPECT_EQ(s.totals, (std::vector<int64_t>{6, 5, 4, 3}));
  EXPECT_EQ(s.signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
}

TEST(Bleu, EmptyHypothesisAndReference) {
  xm::BleuScore empty_hyp = xm::corpus_bleu({""}, {{"a b c"}}, {});
  EXPECT_EQ(empty_hyp.score, 0.0);
  EXPECT_EQ(empty_hyp.bp, 0.0);
  EXPECT_EQ(empty_hyp.sys_len, 0);
  EXPECT_EQ(empty_hyp.ref_len, 3);
  EXPECT_EQ(empty_hyp.ratio, 0.0);

  xm::BleuScore empty_ref = xm::corpus_bleu({"a b"}, {{""}}, {});
  EXPECT_EQ(empty_ref.score, 0.0);
  EXPECT_EQ(empty_ref.bp, 1.0);
  EXPECT_EQ(empty_ref.totals, (std::vector<int64_t>{2, 1, 0, 0}));
  EXPECT_EQ(empty_ref.ratio, 0.0);

  xm::BleuScore both = xm::corpus_bleu({""}, {{""}}, {});
  EXPECT_EQ(both.score, 0.0);
  EXPECT_EQ(both.bp, 1.0);

  xm::BleuScore sentence = xm::sentence_bleu("", {"a"});
  EXPECT_EQ(sentence.score, 0.0);
}

TEST(Bleu, ClosestReferenceLengthPrefersShorterOnTies) {
  // 3 hypothesis words; references of 2 and 4 words are equally close: 2 wins.
  xm::BleuScore s = xm::corpus_bleu({"a b c"}, {{"a b"}, {"a b c d"}}, {});
  EXPECT_EQ(s.ref_len, 2);
  EXPECT_EQ(s.sys_len, 3);
  EXPECT_EQ(s.counts, (std::vector<int64_t>{3, 2, 1, 0}));  // clipped by the best reference
  EXPECT_EQ(s.score, 0.0);  // no 4-gram at all without effective order
  EXPECT_EQ(s.signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
}

TEST(Bleu, SmoothingMethods) {
  const std::vector<std::string> hyps{"the cat is on the mat", "a dog"};
  const std::vector<std::vector<std::string>> refs{{"the cat sat on the mat", "a dog barks"}};
  xm::BleuOptions o;
  o.smooth = xm::BleuSmooth::kFloor;
  xm::BleuScore floor = xm::corpus_bleu(hyps, refs, o);
  expect_close(floor.score, 23.30220811835367);
  expect_close(floor.bp, 0.8824969025845955);
  expect_close(floor.precisions[3], 3.3333333333333335);
  EXPECT_EQ(floor.signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0");

  o.smooth = xm::BleuSmooth::kAddK;
  xm::BleuScore addk = xm::corpus_bleu(hyps, refs, o);
  expect_close(addk.score, 44.12484512922978);
  expect_close(addk.precisions[1], 71.42857142857143);
  EXPECT_EQ(addk.signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.6.0");

  o.smooth = xm::BleuSmooth::kNone;
  xm::BleuScore none = xm::corpus_bleu(hyps, refs, o);
  EXPECT_EQ(none.score, 0.0);
  expect_close(none.precisions[2], 25.0);
  EXPECT_EQ(none.signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:none|version:2.6.0");

  o.smooth = xm::BleuSmooth::kFloor;
  o.smooth_value = 0.125;  // formatted as Python's :.2f (round half to even on the binary value)
  EXPECT_EQ(xm::corpus_bleu(hyps, refs, o).signature,
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.12]|version:2.6.0");

  for (const char* name : {"exp", "floor", "add-k", "none"}) {
    auto s = xm::parse_bleu_smooth(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(xm::bleu_smooth_name(*s), name);
  }
  EXPECT_FALSE(xm::parse_bleu_smooth("add_k").has_value());
}

TEST(Bleu, SentenceUsesEffectiveOrder) {
  xm::BleuScore s = xm::sentence_bleu("a b", {"a b c"});
  expect_close(s.score, 60.653065971263366);
  EXPECT_EQ(s.signature, "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0");
  EXPECT_EQ(xm::sentence_bleu("x", {"y"}).score, 0.0);
  xm::BleuOptions zh;
  zh.tokenize = xm::BleuTokenizer::kZh;
  expect_close(xm::corpus_bleu({"\u6211\u7231\u5317\u4eac\u3002"}, {{"\u6211\u7231\u4e0a\u6d77\u3002"}}, zh).score,
               23.643540225079384);
}

TEST(Bleu, LayoutErrors) {
  EXPECT_THROW(xm::corpus_bleu({"a", "b"}, {{"a"}}, {}), xling::InvalidArgument);
  EXPECT_THROW(xm::corpus_bleu({"a"}, {{"a"}, {"a", "b"}}, {}), xling::InvalidArgument);
  EXPECT_THROW(xm::corpus_bleu({"a"}, {}, {}), xling::InvalidArgument);
  EXPECT_THROW(xm::corpus_bleu({}, {{}}, {}), xling::InvalidArgument);
  EXPECT_THROW(xm::sentence_bleu("a", {}), xling::InvalidArgument);
  try {
    xm::corpus_bleu({"a", "b", "c"}, {{"a", "b", "c"}, {"a"}}, {});
    FAIL() << "no exception";
  } catch (const xling::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("reference stream 2 has 1 segments but there are 3"), std::string::npos)
        << e.what();
  }
}

// ---------------------------------------------------------------- chrF

TEST(Chrf, SentenceValues) {
  xm::ChrfOptions chrf;
  xm::ChrfOptions chrfpp;
  chrfpp.word_order = 2;
  EXPECT_EQ(xm::sentence_chrf("the cat sat on the mat", {"the cat sat on the mat"}, chrf).score, 100.0);
  expect_close(xm::sentence_chrf("the cat", {"the dog"}, chrf).score, 19.16666666666666);
  expect_close(xm::sentence_chrf("the cat", {"the dog"}, chrfpp).score, 20.625);
  // Punctuation split off words: '(hi)' -> '(hi', ')'; 'there.' -> 'there', '.'.
  EXPECT_EQ(xm::sentence_chrf("(hi) there.", {"(hi) there ."}, chrfpp).score, 100.0);
  // Best of two references.
  expect_close(xm::sentence_chrf("the cat", {"the dog", "a cat"}, chrfpp).score, 36.85304990757856);
}

TEST(Chrf, EmptySidesAndSignature) {
  xm::ChrfOptions o;
  EXPECT_EQ(xm::sentence_chrf("", {"abc"}, o).score, 0.0);
  EXPECT_EQ(xm::sentence_chrf("abc", {""}, o).score, 0.0);
  EXPECT_EQ(xm::sentence_chrf("", {""}, o).score, 0.0);
  EXPECT_EQ(xm::corpus_chrf({"a"}, {{"a"}}, o).signature, "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0");
  o.word_order = 2;
  o.lowercase = true;
  o.eps_smoothing = true;
  o.whitespace = true;
  EXPECT_EQ(xm::chrf_signature(o, 3), "nrefs:3|case:lc|eff:no|nc:6|nw:2|space:yes|version:2.6.0");
}

TEST(Chrf, Errors) {
  xm::ChrfOptions o;
  EXPECT_THROW(xm::corpus_chrf({"a", "b"}, {{"a"}}, o), xling::InvalidArgument);
  EXPECT_THROW(xm::sentence_chrf("a", {}, o), xling::InvalidArgument);
  o.char_order = 0;
  EXPECT_THROW(xm::sentence_chrf("a", {"a"}, o), xling::InvalidArgument);
  o.char_order = 6;
  o.beta = -1;
  EXPECT_THROW(xm::sentence_chrf("a", {"a"}, o), xling::InvalidArgument);
}

// ---------------------------------------------------------------- TER

TEST(Ter, ShiftsCountAsOneEdit) {
  std::vector<std::string_view> hyp{"a", "b", "c", "d", "e"}, ref{"c", "d", "a", "b", "e"};
  xm::TerEdits e = xm::translation_edit_rate(hyp, ref);
  EXPECT_EQ(e.num_edits, 1);
  EXPECT_EQ(e.ref_length, 5);
  xm::TerOptions o;
  EXPECT_EQ(xm::sentence_ter("a b c d e", {"c d a b e"}, o).score, 20.0);
  expect_close(xm::sentence_ter("the cat sat on the mat", {"on the mat the cat sat"}, o).score, 16.666666666666664);
}

TEST(Ter, EmptySidesCaseAndReferences) {
  xm::TerOptions o;
  xm::TerScore empty_ref = xm::sentence_ter("a b", {""}, o);
  EXPECT_EQ(empty_ref.score, 100.0);
  EXPECT_EQ(empty_ref.num_edits, 2);
  EXPECT_EQ(empty_ref.ref_length, 0.0);
  EXPECT_EQ(xm::sentence_ter("", {""}, o).score, 0.0);
  EXPECT_EQ(xm::sentence_ter("", {"a b"}, o).score, 100.0);
  EXPECT_EQ(xm::sentence_ter("A B", {"a b"}, o).score, 0.0);  // case-insensitive by default
  o.case_sensitive = true;
  EXPECT_EQ(xm::sentence_ter("A B", {"a b"}, o).score, 100.0);
  o.case_sensitive = false;
  // Best edits over the references, divided by their average length.
  xm::TerScore two = xm::sentence_ter("a b c", {"a b", "a b c d e"}, o);
  EXPECT_EQ(two.num_edits, 1);
  EXPECT_EQ(two.ref_length, 3.5);
  expect_close(two.score, 28.57142857142857);
  xm::TerScore corpus = xm::corpus_ter({"a b c", "x"}, {{"a c b", "y z"}}, o);
  EXPECT_EQ(corpus.score, 60.0);
  EXPECT_EQ(corpus.signature, "nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0");
  EXPECT_THROW(xm::corpus_ter({"a"}, {{"a", "b"}}, o), xling::InvalidArgument);
}

TEST(Ter, TokenizerOptionsAndDoubleReferencePass) {
  xm::TerOptions o;
  o.normalized = true;
  EXPECT_EQ(xm::tokenize_tercom("He's 3.5 &quot;x&quot;, y.", o), "he 's 3.5 \" x \" , y .");
  o.asian_support = true;
  o.no_punct = true;
  EXPECT_EQ(xm::tokenize_tercom("\u6211\u7231\u3002abc, d!", o), "\u6211 \u7231 abc d");
  EXPECT_EQ(xm::ter_signature(o, 1), "nrefs:1|case:lc|tok:tercom|norm:yes|punct:no|asian:yes|version:2.6.0");
  // sacrebleu normalizes references twice: "clg's\x1fx" -> "clg's x" -> "clg 's x", while the
  // hypothesis gets one pass ("clg's x"): 2 edits against 3 reference words.
  xm::TerOptions norm;
  norm.normalized = true;
  xm::TerScore s = xm::sentence_ter("clg's\x1fx", {"clg's\x1fx"}, norm);
  EXPECT_EQ(s.num_edits, 2);
  EXPECT_EQ(s.ref_length, 3.0);
}
