// Resolution of decoding settings (see options.hpp).
#include "generate/options.hpp"

#include <fmt/format.h>

#include "io/seq2seq_config.hpp"
#include "xling/errors.hpp"

namespace xling::generate {

GenerationOptions resolve_options(const io::ModelConfig& model, const io::GenerationConfig* gen,
                                  const GenerationOverrides& ov, int64_t prompt_length) {
  GenerationOptions o;
  o.prompt_length = prompt_length;
  // config.json first (what HF's generation config "from model config" holds) ...
  o.eos_token_ids = model.eos_token_ids;
  std::optional<int64_t> pad = model.pad_token_id;
  if (const auto* s2s = dynamic_cast<const io::Seq2SeqConfig*>(&model)) {
    o.forced_bos_token_id = s2s->forced_bos_token_id;
    o.forced_eos_token_id = s2s->forced_eos_token_id;
  }
  std::optional<int64_t> max_length, max_new_tokens, min_new_tokens;
  // ... then generation_config.json ...
  if (gen) {
    if (!gen->eos_token_ids.empty()) o.eos_token_ids = gen->eos_token_ids;
    if (gen->pad_token_id) pad = gen->pad_token_id;
    if (gen->forced_bos_token_id) o.forced_bos_token_id = gen->forced_bos_token_id;
    if (gen->forced_eos_token_id) o.forced_eos_token_id = gen->forced_eos_token_id;
    max_length = gen->max_length;
    max_new_tokens = gen->max_new_tokens;
    min_new_tokens = gen->min_new_tokens;
    o.min_length = gen->min_length;
    o.num_beams = gen->num_beams;
    o.num_return_sequences = gen->num_return_sequences;
    o.do_sample = gen->do_sample;
    o.temperature = gen->temperature;
    o.top_k = gen->top_k;
    o.top_p = gen->top_p;
    o.min_p = gen->min_p;
    o.repetition_penalty = gen->repetition_penalty;
    o.length_penalty = gen->length_penalty;
    o.early_stopping = gen->early_stopping;
    o.no_repeat_ngram_size = gen->no_repeat_ngram_size;
    o.bad_words_ids = gen->bad_words_ids;
    o.suppress_tokens = gen->suppress_tokens;
  }
  // ... then explicit arguments. As in HF, an explicit max_new_tokens wins over any
  // max_length, and an explicit max_length over a configured max_new_tokens.
  if (ov.max_length) {
    max_length = ov.max_length;
    max_new_tokens.reset();
  }
  if (ov.max_new_tokens) max_new_tokens = ov.max_new_tokens;
  if (ov.min_new_tokens) min_new_tokens = ov.min_new_tokens;
  if (ov.min_length) o.min_length = *ov.min_length;
  if (ov.num_beams) o.num_beams = *ov.num_beams;
  if (ov.num_return_sequences) o.num_return_sequences = *ov.num_return_sequences;
  if (ov.do_sample) o.do_sample = *ov.do_sample;
  if (ov.temperature) o.temperature = *ov.temperature;
  if (ov.top_k) o.top_k = *ov.top_k;
  if (ov.top_p) o.top_p = *ov.top_p;
  if (ov.min_p) o.min_p = ov.min_p;
  if (ov.repetition_penalty) o.repetition_penalty = *ov.repetition_penalty;
  if (ov.length_penalty) o.length_penalty = *ov.length_penalty;
  if (ov.early_stopping) o.early_stopping = *ov.early_stopping;
  if (ov.no_repeat_ngram_size) o.no_repeat_ngram_size = *ov.no_repeat_ngram_size;
  if (ov.forced_bos_token_id) o.forced_bos_token_id = ov.forced_bos_token_id;
  if (ov.forced_eos_token_id) o.forced_eos_token_id = ov.forced_eos_token_id;
  if (ov.bad_words_ids) o.bad_words_ids = *ov.bad_words_ids;
  if (ov.suppress_tokens) o.suppress_tokens = *ov.suppress_tokens;
  if (ov.seed) o.seed = *ov.seed;

  o.max_length = max_new_tokens ? *max_new_tokens + prompt_length : max_length.value_or(20);
  o.min_new_tokens = min_new_tokens.value_or(0);
  o.pad_token_id = pad ? *pad : (o.eos_token_ids.empty() ? 0 : o.eos_token_ids.front());

  if (o.max_length <= prompt_length) {
    throw InvalidArgument(fmt::format("max_length {} leaves no room for new tokens after a prompt of {}", o.max_length,
                                      prompt_length));
  }
  if (o.num_beams < 1) throw InvalidArgument(fmt::format("num_beams must be >= 1, found {}", o.num_beams));
  if (o.num_return_sequences < 1) {
    throw InvalidArgument(fmt::format("num_return_sequences must be >= 1, found {}", o.num_return_sequences));
  }
  if (!o.do_sample && o.num_return_sequences > o.num_beams) {
    throw InvalidArgument(fmt::format("num_return_sequences ({}) cannot exceed num_beams ({}) without sampling",
                                      o.num_return_sequences, o.num_beams));
  }
  if (!(o.temperature > 0)) throw InvalidArgument(fmt::format("temperature must be > 0, found {}", o.temperature));
  if (!(o.top_p > 0 && o.top_p <= 1)) throw InvalidArgument(fmt::format("top_p must lie in (0, 1], found {}", o.top_p));
  if (o.top_k < 0) throw InvalidArgument(fmt::format("top_k must be >= 0, found {}", o.top_k));
  if (!(o.repetition_penalty > 0)) {
    throw InvalidArgument(fmt::format("repetition_penalty must be > 0, found {}", o.repetition_penalty));
  }
  if (o.no_repeat_ngram_size < 0) {
    throw InvalidArgument(fmt::format("no_repeat_ngram_size must be >= 0, found {}", o.no_repeat_ngram_size));
  }
  return o;
}

}  // namespace xling::generate
