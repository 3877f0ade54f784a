// TranslationTokenizer: the source ids, forced target-language token, label ids and target
// decoding of a Hugging Face machine-translation model directory, exactly as transformers 5.17
// builds them (the translation pipeline's _build_translation_inputs, tokenizer(text_target=...),
// tokenizer.decode(ids, skip_special_tokens=True)). Families: NLLB, M2M-100 (+ SMaLL-100), mBART-50, mBART-cc25,
// Marian/OPUS-MT (shared or separate vocabularies, multi-target ">>xxx<<" tokens), T5/mT5.
// Torch-free; immutable once loaded (copies share it; concurrent use is safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xling::tokenize {

enum class TranslationFamily {
  kNllb,       // [src] text </s> (tokenizer_config legacy_behaviour: text </s> [src]); forced bos [tgt]
  kM2m100,     // [__src__] text </s>; forced bos [__tgt__]
  kSmall100,   // [__tgt__] text </s>; no forced bos (SMaLL-100's remote-code tokenizer)
  kMbart50,    // [src] text </s>; forced bos [tgt]
  kMbart,      // mBART-cc25: text </s> [src]; forced bos [tgt]
  kMarian,     // [>>tgt<<] text </s> (the code only for multi-target models); no forced bos
  kT5,         // text </s>; no language tokens (task prefixes are plain text)
};

struct SourceOptions {
  // 0: no truncation. Otherwise the text's tokens are cut (right side) so that the result,
  // special tokens included, has at most max_length ids -- tokenizer(..., truncation=True,
  // max_length=n). InvalidArgument when max_length is smaller than the special tokens alone.
  std::size_t max_length = 0;
};

class TranslationTokenizer {
 public:
  // Reads a model directory: tokenizer_config.json (`tokenizer_class`) or config.json
  // (`model_type`) and the files present pick the family; tokenizer.json (NLLB, mBART, T5), or
  // vocab.json + sentencepiece.bpe.model (M2M-100), source.spm + target.spm + vocab.json
  // [+ target_vocab.json] (Marian), or spiece.model (T5 without tokenizer.json).
  // Throws IoError / InvalidArgument / UnsupportedModel naming the directory and file.
  static TranslationTokenizer load(const std::string& model_dir);

  TranslationFamily family() const;
  std::string family_name() const;  // "NLLB", "M2M-100", ... for messages
  // The codes language_token_id accepts, in the model's order (NLLB "fra_Latn", M2M-100 "fr",
  // mBART "fr_XX", Marian multi-target "fra" for ">>fra<<"). Empty: the model has no language
  // tokens (T5, single-pair Marian) and the src/tgt arguments below are not used.
  const std::vector<std::string>& languages() const;
  bool uses_source_language() const;  // NLLB, M2M-100, mBART
  bool uses_target_language() const;  // the above, SMaLL-100 and multi-target Marian

  // The id of a language token. Accepts the family's codes (and for M2M-100 "__fr__", for
  // Marian ">>fra<<"). Throws InvalidArgument listing every valid code.
  int64_t language_token_id(const std::string& code) const;

  // The encoder input ids for `text` (valid UTF-8, else InvalidArgument naming the byte offset).
  // `src_lang` / `tgt_lang` must be valid codes where the family uses them (see above).
  std::vector<int64_t> encode_source(std::string_view text, const std::string& src_lang, const std::string& tgt_lang,
                                     const SourceOptions& options = {}) const;
  // Label ids for `text` exactly as transformers 5.17's `tokenizer(text_target=text, truncation=...,
  // max_length=...)` makes them (the tokenizer's target mode), for fine-tuning:
  //   NLLB [tgt] text </s> (legacy_behaviour: text </s> [tgt]); M2M-100 [__tgt__] text </s>;
  //   mBART-50 [tgt] text </s>; mBART-cc25 text </s> [tgt]; T5 text </s>;
  //   Marian text </s> tokenized with target.spm (and mapped with target_vocab.json when the
  //   vocabularies are separate; pieces it lacks -> its <unk>); no ">>tgt<<" (source-side only);
  //   SMaLL-100 text </s> (its _switch_to_target_mode drops the language prefix).
  // `tgt_lang` is required where the labels carry it (NLLB, M2M-100, mBART) and checked when
  // given for SMaLL-100 / multi-target Marian; unused for T5 and single-pair Marian.
  // Truncation (options.max_length) keeps the special tokens, like encode_source. Throws
  // InvalidArgument for unknown codes (listing the valid ones) and invalid UTF-8.
  std::vector<int64_t> encode_target(std::string_view text, const std::string& tgt_lang,
                                     const SourceOptions& options = {}) const;
  // What generate() needs as forced_bos_token_id: the target code for NLLB / M2M-100 / mBART,
  // nullopt for families that put the target into the source or have none.
  std::optional<int64_t> forced_bos(const std::string& tgt_lang) const;

  // tokenizer.decode(ids, skip_special_tokens=True). Surprises of transformers 5.17 kept: ids
  // past the vocabulary are dropped (tokenizer.json families) or read as <unk> (M2M-100);
  // Marian's ">>fra<<" and (when the directory does not list them as special tokens) M2M-100's
  // "__fr__" are ordinary tokens and stay in the text. Throws InvalidArgument for negative ids
  // and for ids Marian cannot map (past both its vocabulary and its sentencepiece model).
  std::string decode_target(const std::vector<int64_t>& ids) const;
  std::vector<std::string> decode_target_batch(const std::vector<std::vector<int64_t>>& batch) const;

  int64_t eos_id() const;
  int64_t pad_id() const;
  // tokenizer_config.json's model_max_length (what truncation=True without max_length uses);
  // 0 when absent or the "no limit" placeholder (1e30).
  std::size_t model_max_length() const;

 private:
  struct Impl;
  explicit TranslationTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace xling::tokenize
