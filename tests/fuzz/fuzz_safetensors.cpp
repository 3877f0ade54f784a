// libFuzzer target: arbitrary bytes as a safetensors file. Any outcome but a clean parse
// or an xling::Error is a bug (sanitizers catch out-of-bounds reads in the views).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "io/safetensors.hpp"
#include "io/tensor_values.hpp"
#include "xling/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into an exactly sized heap buffer so ASan sees reads past the end.
  std::vector<std::byte> buf(size);
  if (size > 0) std::memcpy(buf.data(), data, size);
  try {
    auto file = xling::io::SafeTensorsFile::parse(nullptr, buf.data(), buf.size(), "fuzz");
    double sum = 0;
    for (const auto& t : file.tensors()) {
      std::size_t n = static_cast<std::size_t>(t.numel());
      if (n > 0) sum += xling::io::value_at(t, 0) + xling::io::value_at(t, n - 1);
    }
    (void)sum;
  } catch (const xling::Error&) {
  }
  return 0;
}
