// safetensors validation and zero-copy views (see safetensors.hpp).
#include "io/safetensors.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json.hpp"
#include "core/mapped_file.hpp"
#include "xling/errors.hpp"

namespace xling::io {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_string() const { return fmt::format("[{}]", fmt::join(shape, ", ")); }

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw IoError(fmt::format("{}: invalid safetensors file: {}", source, what));
}

// A non-negative integer that fits in uint64 (JSON may hold negatives, floats, strings).
bool as_u64(const nlohmann::json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    out = static_cast<uint64_t>(v.get<int64_t>());
    return true;
  }
  return false;
}

TensorView parse_entry(const std::string& source, const std::string& name, const nlohmann::json& entry) {
  if (!entry.is_object()) fail(source, fmt::format("tensor '{}': entry is not an object", name));
  TensorView view;
  view.name = name;

  auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string()) fail(source, fmt::format("tensor '{}': missing string 'dtype'", name));
  auto dtype = parse_dtype(dt->get_ref<const std::string&>());
  if (!dtype) {
    fail(source, fmt::format("tensor '{}': unknown dtype {}", name, core::json_excerpt(*dt)));
  }
  view.dtype = *dtype;

  auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array()) fail(source, fmt::format("tensor '{}': missing list 'shape'", name));
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    uint64_t dim = 0;
    if (!as_u64(d, dim) || dim > static_cast<uint64_t>(INT64_MAX)) {
      fail(source, fmt::format("tensor '{}': shape {} holds {}, not a non-negative integer", name,
                               core::json_excerpt(*sh), core::json_excerpt(d)));
    }
    if (__builtin_mul_overflow(numel, dim, &numel)) {
      fail(source, fmt::format("tensor '{}': shape {} overflows 64 bits", name, core::json_excerpt(*sh)));
    }
    view.shape.push_back(static_cast<int64_t>(dim));
  }
  uint64_t expected = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(view.dtype)), &expected)) {
    fail(source, fmt::format("tensor '{}': shape {} overflows 64 bits", name, core::json_excerpt(*sh)));
  }

  auto off = entry.find("data_offsets");
  uint64_t begin = 0, end = 0;
  if (off == entry.end() || !off->is_array() || off->size() != 2 || !as_u64((*off)[0], begin) ||
      !as_u64((*off)[1], end)) {
    fail(source, fmt::format("tensor '{}': 'data_offsets' must be [begin, end] with non-negative integers, found {}",
                             name, off == entry.end() ? std::string("nothing") : core::json_excerpt(*off)));
  }
  if (end < begin) {
    fail(source, fmt::format("tensor '{}': data_offsets [{}, {}] end before they begin", name, begin, end));
  }
  if (end - begin != expected) {
    fail(source, fmt::format("tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", name,
                             view.shape_string(), dtype_name(view.dtype), expected, begin, end, end - begin));
  }
  view.offset = begin;
  view.nbytes = static_cast<std::size_t>(expected);
  return view;
}

}  // namespace

SafeTensorsFile SafeTensorsFile::open(const std::string& path) {
  auto file = core::MappedFile::open(path);
  const std::byte* data = file->data();
  std::size_t size = file->size();
  return parse(std::shared_ptr<const void>(file, file.get()), data, size, path);
}

SafeTensorsFile SafeTensorsFile::parse(std::shared_ptr<const void> owner, const std::byte* data, std::size_t size,
                                       const std::string& source) {
  SafeTensorsFile out;
  out.path_ = source;
  out.owner_ = std::move(owner);
  out.file_size_ = size;
  if (size < 8) {
    fail(source, fmt::format("{} bytes is too short for the 8-byte header length", size));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(data[i]);
  if (header_len > kMaxSafetensorsHeader) {
    fail(source, fmt::format("header length {} exceeds the limit of {} bytes", header_len, kMaxSafetensorsHeader));
  }
  if (header_len > size - 8) {
    fail(source, fmt::format("header length {} runs past the end of the file ({} bytes): truncated file?", header_len,
                             size));
  }
  out.header_size_ = header_len;
  std::string_view header(reinterpret_cast<const char*>(data + 8), header_len);
  if (header.empty() || header.front() != '{') fail(source, "header does not start with '{'");

  nlohmann::json json = core::parse_json(header, source + " (header)", core::JsonLimits{/*max_depth=*/8});
  if (!json.is_object()) fail(source, "header is not a JSON object");

  const std::byte* body = data + 8 + header_len;
  const uint64_t body_size = size - 8 - header_len;
  out.tensors_.reserve(json.size());
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(source, "'__metadata__' is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) {
          fail(source, fmt::format("'__metadata__' key '{}' holds {}, not a string", k, core::json_excerpt(v)));
        }
        out.metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    out.tensors_.push_back(parse_entry(source, name, entry));
  }

  // Tensors must tile the data section exactly: sorted by offset, no overlap, no gap,
  // nothing after the last one (the reference implementation's rules).
  std::sort(out.tensors_.begin(), out.tensors_.end(), [](const TensorView& a, const TensorView& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.nbytes < b.nbytes;
  });
  uint64_t cursor = 0;
  const TensorView* prev = nullptr;
  for (auto& t : out.tensors_) {
    if (t.offset < cursor) {
      fail(source, fmt::format("tensors '{}' and '{}' overlap (bytes {}..{} and {}..{})", prev->name, t.name,
                               prev->offset, prev->offset + prev->nbytes, t.offset, t.offset + t.nbytes));
    }
    if (t.offset > cursor) {
      fail(source, fmt::format("{} unused bytes before tensor '{}' (data_offsets begin at {}, expected {})",
                               t.offset - cursor, t.name, t.offset, cursor));
    }
    if (t.offset + t.nbytes > body_size) {
      fail(source, fmt::format("tensor '{}': data_offsets [{}, {}] run past the end of the data section ({} bytes): "
                               "truncated file?",
                               t.name, t.offset, t.offset + t.nbytes, body_size));
    }
    cursor = t.offset + t.nbytes;
    t.data = t.nbytes == 0 ? nullptr : body + t.offset;
    prev = &t;
  }
  if (cursor != body_size) {
    fail(source, fmt::format("{} bytes after the last tensor are not described by the header", body_size - cursor));
  }
  for (std::size_t i = 0; i < out.tensors_.size(); ++i) out.index_.emplace(out.tensors_[i].name, i);
  return out;
}

const TensorView* SafeTensorsFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafeTensorsFile::at(std::string_view name) const {
  if (const TensorView* t = find(name)) return *t;
  throw IoError(fmt::format("{}: no tensor named '{}'", path_, name));
}

}  // namespace xling::io
