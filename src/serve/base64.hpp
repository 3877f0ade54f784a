// Standard base64 (RFC 4648 §4, with '=' padding), as OpenAI's embeddings API uses for
// encoding_format="base64": the little-endian float32 bytes of each vector.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace xling::serve {

// "AQID" for the bytes 01 02 03; output length is 4 * ceil(n / 3).
std::string base64_encode(std::string_view bytes);

// The little-endian IEEE-754 bytes of `values`, base64-encoded (1.0f -> 00 00 80 3f -> "AACAPw==").
std::string base64_encode_f32le(std::span<const float> values);

}  // namespace xling::serve
