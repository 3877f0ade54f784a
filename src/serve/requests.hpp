// Request schemas of `xling serve` (TEI- and OpenAI-compatible), parsed from untrusted bytes,
// and the JSON writers of the float-heavy responses. Transport-agnostic: a body goes in
// (whatever its Content-Type, it is read as JSON), a typed struct or a RequestError comes out.
//
// Rules shared by every parser:
// - The body must be a JSON object; unknown keys are ignored; a key holding null counts as
//   absent. Integers must be JSON integers (3.0 is refused), booleans true/false.
// - Bodies over Limits::max_request_bytes -> 413 PayloadTooLarge; nesting deeper than
//   Limits::max_depth is refused by a byte scan before the (recursive) JSON parser runs -> 400.
// - Malformed JSON -> 400 with the byte offset. Invalid UTF-8 inside a string the request
//   uses -> 400 naming the field and item ("inputs[3]") and the body offset of the bad byte
//   (invalid bytes in ignored keys are ignored too).
// - More inputs than Limits::max_client_batch_size -> 413 PayloadTooLarge with count and limit.
// Every error is a RequestError whose message names the field and the value or type found.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "xling/errors.hpp"

namespace xling::serve {

// error_type strings of the JSON error body (TEI's names where TEI has one).
inline constexpr std::string_view kValidation = "Validation";            // 400
inline constexpr std::string_view kPayloadTooLarge = "PayloadTooLarge";  // 413
inline constexpr std::string_view kBackend = "Backend";                  // 500

// A request (or response) the server must refuse: HTTP status, error_type, message.
class RequestError : public Error {
 public:
  RequestError(int status, std::string_view type, const std::string& message)
      : Error(message), status_(status), type_(type) {}
  int status() const noexcept { return status_; }
  const std::string& type() const noexcept { return type_; }

 private:
  int status_;
  std::string type_;
};

struct Limits {
  std::size_t max_request_bytes = std::size_t{2} << 20;  // whole body; larger -> 413
  // Inputs (texts, pairs, id lists) per request; more -> 413. TEI's --max-client-batch-size.
  std::size_t max_client_batch_size = 1024;
  int max_depth = 64;  // JSON nesting (arrays + objects); deeper -> 400 before parsing
};

// TEI accepts "Right"/"Left" (its serde names) and "right"/"left" (its documented default).
enum class TruncationDirection { kRight, kLeft };

// Token ids given instead of text (TEI /embed, OpenAI /v1/embeddings, /decode); each in
// [0, 2^31 - 1] (the tokenizers' id type). Whether an id is in the vocabulary is the
// worker's check.
using TokenIds = std::vector<int>;

// One embedding input: a text, or token ids that bypass the tokenizer.
using EmbedInput = std::variant<std::string, TokenIds>;

// TEI POST /embed. "inputs": a string, a list of token ids, or a list mixing strings and
// token-id lists. The response is a list of vectors whatever the shape (as TEI).
struct EmbedRequest {
  std::vector<EmbedInput> inputs;           // >= 1 item
  bool single_input = false;                // "inputs" was one string / one id list
  bool normalize = true;
  std::optional<bool> truncate;             // absent/null: the server's default (TEI --auto-truncate)
  TruncationDirection truncation_direction = TruncationDirection::kRight;
  std::optional<std::string> prompt_name;   // a key of the sentence-transformers "prompts"
  std::optional<std::string> model;
};

enum class EncodingFormat { kFloat, kBase64 };

// OpenAI POST /v1/embeddings. "input": a string, a list of strings, a list of token ids, or a
// list of token-id lists. "user" is ignored.
struct OpenAIEmbeddingsRequest {
  std::vector<EmbedInput> input;            // >= 1 item
  bool single_input = false;
  std::optional<std::string> model;
  EncodingFormat encoding_format = EncodingFormat::kFloat;  // "float" | "base64"
  std::optional<int> dimensions;            // > 0 (Matryoshka truncation; the worker checks the size)
};

// TEI POST /rerank (plus "top_n", as Cohere/Jina: keep the n best; > 0, may exceed texts).
struct RerankRequest {
  std::string query;                        // non-empty
  std::vector<std::string> texts;           // >= 1 item (empty strings allowed)
  std::optional<bool> truncate;
  TruncationDirection truncation_direction = TruncationDirection::kRight;
  bool raw_scores = false;
  bool return_text = false;
  std::optional<int> top_n;
  std::optional<std::string> model;
};

// One sequence-classification input: a text, or a (text, text_pair) pair.
struct PredictInput {
  std::string text;
  std::optional<std::string> text_pair;
  bool operator==(const PredictInput&) const = default;
};

// TEI POST /predict. "inputs" follows TEI exactly:
//   "a"               -> one input (single_input)
//   ["a"]             -> one input "a"  (single_input)
//   ["a", "b"]        -> one PAIR (a, b) (single_input) — not two inputs
//   [["a"], ["a", "b"], ...] -> a batch of texts and pairs (each inner list has 1 or 2 strings)
// A list of 3+ strings is refused with a message showing the batch form.
struct PredictRequest {
  std::vector<PredictInput> inputs;         // >= 1 item
  bool single_input = false;                // response: one list of predictions, not a list of lists
  std::optional<bool> truncate;
  TruncationDirection truncation_direction = TruncationDirection::kRight;
  bool raw_scores = false;
  std::optional<int> top_k;                 // > 0: keep the k best labels (HF pipeline's top_k)
  std::optional<std::string> model;
};

// The HF token-classification pipeline's aggregation strategies (names case-insensitive).
enum class AggregationStrategy { kNone, kSimple, kFirst, kAverage, kMax };

// POST /tag (token classification; xling's own endpoint, HF pipeline semantics).
struct TagRequest {
  std::vector<std::string> inputs;          // >= 1 item
  bool single_input = false;
  AggregationStrategy aggregation_strategy = AggregationStrategy::kSimple;
  std::vector<std::string> ignore_labels{"O"};  // absent/null -> ["O"]; [] ignores nothing
  std::optional<bool> truncate;
  std::optional<std::string> model;
};

// TEI POST /tokenize.
struct TokenizeRequest {
  std::vector<std::string> inputs;          // >= 1 item
  bool single_input = false;
  bool add_special_tokens = true;
  std::optional<std::string> prompt_name;
  std::optional<std::string> model;
};

// TEI POST /decode. "ids": a list of ids (single_input) or a list of id lists; [] is refused,
// [[]] is one empty sequence.
struct DecodeRequest {
  std::vector<TokenIds> ids;                // >= 1 sequence
  bool single_input = false;
  bool skip_special_tokens = true;
  std::optional<std::string> model;
};

// POST /translate (xling's own endpoint). "text" (or its alias "inputs", not both): a string
// or a list of strings.
struct TranslateRequest {
  std::vector<std::string> text;            // >= 1 item (empty strings allowed)
  bool single_input = false;
  std::optional<std::string> source_lang;   // non-empty when given; absent: the model's default
  std::string target_lang;                  // required, non-empty
  std::optional<int> num_beams;             // 1..16
  std::optional<int> max_new_tokens;        // 1..4096
  std::optional<std::string> model;
};

// One turn of a conversation. "content" is a string, or a list of text parts
// ({"type": "text", "text": ...}, joined); other part types are refused.
struct ChatMessage {
  std::string role;     // non-empty (system, user, assistant, ...: the chat template decides)
  std::string content;
};

// OpenAI POST /v1/chat/completions. "n" must be 1 when given; "stream_options", "user",
// "logprobs" (false), "presence_penalty"/"frequency_penalty" (0) and unknown keys are ignored
// or refused as the reader says.
struct ChatRequest {
  std::vector<ChatMessage> messages;        // >= 1 (and <= max_client_batch_size)
  std::optional<std::string> model;
  std::optional<int> max_tokens;            // "max_completion_tokens" or "max_tokens": 1..32768
  std::optional<double> temperature;        // [0, 2]; 0 = greedy
  std::optional<double> top_p;              // (0, 1]
  std::optional<int> seed;                  // >= 0
  std::vector<std::string> stop;            // "stop": a string or up to 4 non-empty strings
  bool stream = false;
};

EmbedRequest parse_embed_request(std::string_view body, const Limits& limits = {});
ChatRequest parse_chat_request(std::string_view body, const Limits& limits = {});
OpenAIEmbeddingsRequest parse_openai_embeddings_request(std::string_view body, const Limits& limits = {});
RerankRequest parse_rerank_request(std::string_view body, const Limits& limits = {});
PredictRequest parse_predict_request(std::string_view body, const Limits& limits = {});
TagRequest parse_tag_request(std::string_view body, const Limits& limits = {});
TokenizeRequest parse_tokenize_request(std::string_view body, const Limits& limits = {});
DecodeRequest parse_decode_request(std::string_view body, const Limits& limits = {});
TranslateRequest parse_translate_request(std::string_view body, const Limits& limits = {});

// ------------------------------------------------------------------ response writers
// Floats are written in their shortest decimal form that reads back as the same float32
// ("0.1", "1e-07"). A non-finite value cannot be JSON: the writers throw
// RequestError(500, "Backend") naming the vector and dimension instead.

// Appends `value` as a JSON number; throws RequestError(500, "Backend") for NaN / infinity.
void append_json_float(std::string& out, float value);

// [[v00, v01, ...], [v10, ...], ...]: TEI's /embed response.
std::string embeddings_to_json(const std::vector<std::vector<float>>& vectors);
// The same from row-major values: (N, dim) -> N rows. values.size() must be a multiple of dim
// (dim > 0), else InvalidArgument.
std::string embeddings_to_json(std::span<const float> values, std::size_t dim);

// OpenAI's /v1/embeddings response:
// {"object":"list","data":[{"object":"embedding","embedding":[...] | "<base64>","index":i},...],
//  "model":model_name,"usage":{"prompt_tokens":n,"total_tokens":n}}
// With base64, each embedding is the base64 of its little-endian float32 bytes.
std::string openai_embeddings_response(const std::vector<std::vector<float>>& vectors, std::string_view model_name,
                                       std::size_t prompt_tokens, bool base64);

// {"error": message, "error_type": type}. Invalid UTF-8 in the message becomes U+FFFD.
std::string error_body(std::string_view type, std::string_view message);

}  // namespace xling::serve
