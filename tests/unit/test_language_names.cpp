#include <gtest/gtest.h>

#include "core/language_names.hpp"

using xling::core::language_name;

TEST(LanguageNames, TwoAndThreeLetterCodesWithRegionsScriptsAndVariants) {
  EXPECT_EQ(language_name("de"), "German");
  EXPECT_EQ(language_name("DE"), "German");
  EXPECT_EQ(language_name("pt_BR"), "Portuguese");
  EXPECT_EQ(language_name("zh-Hans"), "Chinese");
  EXPECT_EQ(language_name("sr@latin"), "Serbian");
  EXPECT_EQ(language_name("ukr_Cyrl"), "Ukrainian");  // NLLB / FLORES-200 codes
  EXPECT_EQ(language_name("swh"), "Swahili");
  EXPECT_EQ(language_name("ast"), "Asturian");
  EXPECT_EQ(language_name("xx"), "");
  EXPECT_EQ(language_name(""), "");
  EXPECT_EQ(language_name("-de"), "");
}
