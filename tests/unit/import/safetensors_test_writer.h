// Test support: writes small safetensors files (and broken ones) so the importer tests need no
// downloaded checkpoint, plus a temporary folder that removes itself.
#pragma once

#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "dse/targets/dtype_convert.h"

namespace dse::importer::testing {

// A folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dse_import_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) ? std::filesystem::path(tmpl) : std::filesystem::path();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "BF16", "F16", "F8_E4M3", ...
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
};

template <typename T>
inline std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

inline StTensor f32_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& v) {
  return {std::move(name), "F32", std::move(shape), as_bytes(v)};
}
inline StTensor bf16_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& v) {
  std::vector<uint16_t> h;
  for (float f : v) h.push_back(f32_to_bf16(f));
  return {std::move(name), "BF16", std::move(shape), as_bytes(h)};
}
inline StTensor f16_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& v) {
  std::vector<uint16_t> h;
  for (float f : v) h.push_back(f32_to_f16(f));
  return {std::move(name), "F16", std::move(shape), as_bytes(h)};
}
inline StTensor fp8_tensor(std::string name, std::vector<int64_t> shape, const std::vector<uint8_t>& q) {
  return {std::move(name), "F8_E4M3", std::move(shape), as_bytes(q)};
}

inline std::string shape_json(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// The header JSON for `tensors` laid out back to back, as the safetensors library writes it.
inline std::string header_json(const std::vector<StTensor>& tensors) {
  std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    h += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + shape_json(t.shape) +
         ",\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  return h + "}";
}

// Writes [u64 header length][header][data]; the header is padded with spaces to 8 bytes.
inline void write_raw(const std::filesystem::path& path, std::string header,
                      const std::vector<std::byte>& data) {
  while (header.size() % 8) header += ' ';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t n = header.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(header.data(), std::streamsize(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
}

inline std::vector<std::byte> concat_data(const std::vector<StTensor>& tensors) {
  std::vector<std::byte> d;
  for (const StTensor& t : tensors) d.insert(d.end(), t.bytes.begin(), t.bytes.end());
  return d;
}

inline void write_safetensors(const std::filesystem::path& path, const std::vector<StTensor>& tensors) {
  write_raw(path, header_json(tensors), concat_data(tensors));
}

// Writes shards plus model.safetensors.index.json into `dir`.
inline void write_sharded(const std::filesystem::path& dir,
                          const std::map<std::string, std::vector<StTensor>>& shards) {
  std::string map;
  for (const auto& [file, tensors] : shards) {
    write_safetensors(dir / file, tensors);
    for (const StTensor& t : tensors) map += std::string(map.empty() ? "" : ",") + "\"" + t.name + "\":\"" + file + "\"";
  }
  std::ofstream(dir / "model.safetensors.index.json")
      << "{\"metadata\":{\"total_size\":0},\"weight_map\":{" << map << "}}";
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace dse::importer::testing
