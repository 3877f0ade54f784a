// A model directory's fingerprint: which weights an index's vectors came from, so that a
// search with another model is refused (`xling search`, docs/index.md).
//
// SHA-256 over the sorted relative paths, sizes and contents of the files that define the
// model (*.json, *.safetensors, *.bin, *.model, *.txt, *.spm at most two folders deep; not
// README/eval/training outputs). Files up to 1 MiB are hashed whole; larger ones (weights) by
// their first and last 64 KiB plus 256 evenly spaced 4 KiB samples, so a 1 GB checkpoint
// costs a few ms, and two fine-tuned copies of one architecture (same header, other values)
// still differ. Changing a file after building changes the fingerprint.
#pragma once

#include <string>

namespace xling::io {

// "sha256:<64 hex>"; IoError when `dir` is not a readable directory or has no model files.
std::string model_fingerprint(const std::string& dir);

}  // namespace xling::io
