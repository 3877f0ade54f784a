// libFuzzer target for the request parsers of `xling serve`: the first byte picks the
// endpoint (modulo 8), the rest is the request body. A parser may only return a request or
// throw serve::RequestError; the writers run on what parsed, to reach their error paths too.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "serve/requests.hpp"

using namespace xling::serve;

namespace {

// Small limits so that the 413 paths are reached with short inputs.
Limits fuzz_limits() {
  Limits l;
  l.max_request_bytes = 4096;
  l.max_client_batch_size = 16;
  l.max_depth = 16;
  return l;
}

void parse(unsigned endpoint, std::string_view body, const Limits& limits) {
  switch (endpoint % 8) {
    case 0: {
      auto r = parse_embed_request(body, limits);
      std::vector<std::vector<float>> vectors;
      for (const auto& in : r.inputs) {
        vectors.push_back({static_cast<float>(in.index()), r.normalize ? 1.0f : -0.5f});
      }
      (void)embeddings_to_json(vectors);
      break;
    }
    case 1: {
      auto r = parse_openai_embeddings_request(body, limits);
      std::vector<std::vector<float>> vectors(r.input.size(), std::vector<float>{0.25f, -1e-30f});
      (void)openai_embeddings_response(vectors, r.model.value_or("m"), r.input.size(),
                                       r.encoding_format == EncodingFormat::kBase64);
      break;
    }
    case 2: (void)parse_rerank_request(body, limits); break;
    case 3: (void)parse_predict_request(body, limits); break;
    case 4: (void)parse_tag_request(body, limits); break;
    case 5: (void)parse_tokenize_request(body, limits); break;
    case 6: (void)parse_decode_request(body, limits); break;
    case 7: {
      auto r = parse_translate_request(body, limits);
      (void)error_body("Validation", r.text.front());  // any text must make a valid body
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const Limits limits = fuzz_limits();
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    parse(data[0], body, limits);
  } catch (const RequestError& e) {
    (void)error_body(e.type(), e.what());
  }
  return 0;
}
