// SafetensorsArchive: maps every shard, parses and checks each header before handing out tensors.
#include "dse/import/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <xxhash.h>

namespace dse::importer {
namespace {

using nlohmann::json;

// safetensors' own limit on the header (the Rust crate rejects larger ones).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DTypeInfo {
  const char* name;
  StDType dtype;
  size_t bytes;
};
constexpr DTypeInfo kDTypes[] = {
    {"F64", StDType::f64, 8},         {"F32", StDType::f32, 4},
    {"F16", StDType::f16, 2},         {"BF16", StDType::bf16, 2},
    {"F8_E4M3", StDType::f8_e4m3, 1}, {"F8_E5M2", StDType::f8_e5m2, 1},
    {"I64", StDType::i64, 8},         {"I32", StDType::i32, 4},
    {"I16", StDType::i16, 2},         {"I8", StDType::i8, 1},
    {"U8", StDType::u8, 1},           {"BOOL", StDType::boolean, 1},
};

// One mapped shard.
struct Mapping {
  std::filesystem::path path;
  const std::byte* base = nullptr;
  uint64_t size = 0;
  uint64_t header_end = 0;  // 8 + header length: where the data area starts
  ~Mapping() {
    if (base && size) munmap(const_cast<std::byte*>(base), size);
  }
};

std::string in_quotes(std::string_view s) {
  std::string q(1, '"');
  q.append(s);
  q.push_back('"');
  return q;
}

Status corrupt(const std::filesystem::path& file, const std::string& what) {
  return Status(StatusCode::corrupt_data,
                file.string() + ": " + what +
                    "; the file is damaged or not a safetensors file: download it again");
}

Result<std::unique_ptr<Mapping>> map_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Status(err == ENOENT ? StatusCode::not_found : StatusCode::io_error,
                  path.string() + ": cannot open (" + std::strerror(err) + ")");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status(StatusCode::io_error, path.string() + ": fstat failed (" + std::strerror(err) + ")");
  }
  auto m = std::make_unique<Mapping>();
  m->path = path;
  m->size = uint64_t(st.st_size);
  if (m->size > 0) {
    void* p = mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return Status(StatusCode::io_error,
                    path.string() + ": mmap of " + std::to_string(m->size) + " bytes failed (" +
                        std::strerror(err) + ")");
    }
    m->base = static_cast<const std::byte*>(p);
  }
  ::close(fd);  // the mapping keeps the file open
  return m;
}

// Parses one shard's header into `out` (appending) and checks every entry against the file.
Status parse_shard(const Mapping& m, uint32_t file_index, std::vector<TensorInfo>& out) {
  if (m.size < 8)
    return corrupt(m.path, "file is " + std::to_string(m.size) +
                               " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint64_t(std::to_integer<uint8_t>(m.base[i]));
  if (n > m.size - 8)
    return corrupt(m.path, "header length " + std::to_string(n) + " runs past the end of the " +
                               std::to_string(m.size) + "-byte file (truncated?)");
  if (n > kMaxHeaderBytes)
    return corrupt(m.path, "header length " + std::to_string(n) + " exceeds the safetensors limit of " +
                               std::to_string(kMaxHeaderBytes) + " bytes");
  const char* text = reinterpret_cast<const char*>(m.base + 8);
  std::string_view header(text, n);

  // nlohmann keeps the last of duplicate keys silently: catch them while parsing.
  std::string duplicate;
  std::unordered_set<std::string> seen;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json root;
  try {
    root = json::parse(header.begin(), header.end(), on_event);
  } catch (const json::exception& e) {
    return corrupt(m.path, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!duplicate.empty())
    return corrupt(m.path, "tensor " + in_quotes(duplicate) + " appears twice in the header");
  if (!root.is_object())
    return corrupt(m.path, std::string("header is JSON ") + root.type_name() + ", expected an object");

  const uint64_t data_size = m.size - 8 - n;
  struct Range {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it.value().is_object() && !it.value().is_null())
        return corrupt(m.path, "__metadata__ is " + std::string(it.value().type_name()) +
                                   ", expected an object of strings");
      continue;
    }
    const json& e = it.value();
    auto bad = [&](const std::string& what) {
      return corrupt(m.path, "tensor " + in_quotes(name) + ": " + what);
    };
    if (!e.is_object()) return bad("entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) return bad("missing or non-string \"dtype\"");
    if (!e.contains("shape") || !e["shape"].is_array()) return bad("missing or non-list \"shape\"");
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      return bad("missing \"data_offsets\" [begin, end]");
    TensorInfo t;
    t.name = name;
    t.file_index = file_index;
    std::string dtype = e["dtype"].get<std::string>();
    const DTypeInfo* info = nullptr;
    for (const DTypeInfo& d : kDTypes)
      if (dtype == d.name) info = &d;
    if (!info)
      return Status(StatusCode::unsupported,
                    m.path.string() + ": tensor " + in_quotes(name) + ": dtype " + in_quotes(dtype) +
                        " is not supported; expected one of F32, F16, BF16, F8_E4M3 (or F64, "
                        "F8_E5M2, I64, I32, I16, I8, U8, BOOL)");
    t.dtype = info->dtype;
    // Element count with overflow checks: a hostile header must not wrap the size check.
    unsigned __int128 numel = 1;
    for (const json& d : e["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        return bad("shape " + e["shape"].dump() + " has an entry that is not a non-negative integer");
      uint64_t v = d.get<uint64_t>();
      if (v > (uint64_t(1) << 48)) return bad("shape " + e["shape"].dump() + " is implausibly large");
      t.shape.push_back(int64_t(v));
      numel *= v;
      if (numel > (unsigned __int128)(uint64_t(1) << 62))
        return bad("shape " + e["shape"].dump() + " is implausibly large");
    }
    const json& off = e["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return bad("data_offsets " + off.dump() + " are not non-negative integers");
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) return bad("data_offsets " + off.dump() + " end before they begin");
    if (end > data_size)
      return bad("data_offsets " + off.dump() + " run past the data area of " +
                 std::to_string(data_size) + " bytes (file truncated?)");
    unsigned __int128 expected = numel * info->bytes;
    if (expected != (unsigned __int128)(end - begin))
      return bad("holds " + std::to_string(end - begin) + " bytes but " + dtype + " " +
                 e["shape"].dump() + " needs " + std::to_string(uint64_t(expected)));
    t.data = std::span<const std::byte>(m.base + 8 + n + begin, end - begin);
    ranges.push_back({begin, end, name});
    out.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      return corrupt(m.path, "tensors " + in_quotes(ranges[i - 1].name) + " and " +
                                 in_quotes(ranges[i].name) + " overlap in the data area");
  return Status::Ok();
}

Result<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::not_found, path.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

const char* st_dtype_name(StDType dtype) {
  for (const DTypeInfo& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  return "?";
}

size_t st_dtype_bytes(StDType dtype) {
  for (const DTypeInfo& d : kDTypes)
    if (d.dtype == dtype) return d.bytes;
  return 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}
int64_t TensorInfo::rows() const { return shape.size() >= 2 ? shape[0] : 1; }
int64_t TensorInfo::cols() const {
  if (shape.empty()) return 1;
  if (shape.size() == 1) return shape[0];
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

struct SafetensorsArchive::Impl {
  std::vector<std::unique_ptr<Mapping>> maps;
  std::vector<std::filesystem::path> files;
  std::vector<TensorInfo> tensors;  // sorted by name
  uint64_t fingerprint = 0;
};

SafetensorsArchive::SafetensorsArchive() : impl_(std::make_unique<Impl>()) {}
SafetensorsArchive::SafetensorsArchive(SafetensorsArchive&&) noexcept = default;
SafetensorsArchive& SafetensorsArchive::operator=(SafetensorsArchive&&) noexcept = default;
SafetensorsArchive::~SafetensorsArchive() = default;

Result<SafetensorsArchive> SafetensorsArchive::open(const std::filesystem::path& path) {
  // Every JSON access is checked before it is made; this only keeps a missed case (or
  // bad_alloc on a hostile header) from escaping the API as an exception.
  try {
    return open_checked(path);
  } catch (const std::exception& e) {
    return Status(StatusCode::internal, path.string() + ": unexpected error while reading the checkpoint (" +
                                            e.what() + ")");
  }
}

Result<SafetensorsArchive> SafetensorsArchive::open_checked(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path index_path;
  std::vector<std::filesystem::path> shard_paths;
  if (std::filesystem::is_directory(path, ec)) {
    if (std::filesystem::exists(path / "model.safetensors.index.json", ec)) {
      index_path = path / "model.safetensors.index.json";
    } else if (std::filesystem::exists(path / "model.safetensors", ec)) {
      shard_paths.push_back(path / "model.safetensors");
    } else {
      return Status(StatusCode::not_found,
                    path.string() + ": no model.safetensors.index.json and no model.safetensors; "
                                    "expected a Hugging Face model folder with safetensors weights "
                                    "(convert .bin checkpoints to safetensors first)");
    }
  } else if (path.extension() == ".json") {
    index_path = path;
  } else {
    shard_paths.push_back(path);
  }

  // Sharded: the index names, for every tensor, the shard that holds it.
  std::map<std::string, std::string> weight_map;
  if (!index_path.empty()) {
    auto text = read_text(index_path);
    if (!text.ok()) return text.status();
    json index;
    try {
      index = json::parse(text.value());
    } catch (const json::exception& e) {
      return Status(StatusCode::corrupt_data,
                    index_path.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      return Status(StatusCode::corrupt_data,
                    index_path.string() + ": expected an object with a \"weight_map\" object "
                                          "(tensor name -> shard file)");
    std::set<std::string> shard_names;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        return Status(StatusCode::corrupt_data, index_path.string() + ": weight_map entry " +
                                                    in_quotes(it.key()) + " is not a file name");
      std::string shard = it.value().get<std::string>();
      // Shards live beside the index: no directories, no way out of the model folder.
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
        return Status(StatusCode::corrupt_data,
                      index_path.string() + ": weight_map entry " + in_quotes(it.key()) +
                          " names shard " + in_quotes(shard) + "; expected a plain file name");
      weight_map[it.key()] = shard;
      shard_names.insert(shard);
    }
    for (const std::string& s : shard_names) shard_paths.push_back(index_path.parent_path() / s);
  }

  SafetensorsArchive archive;
  Impl& impl = *archive.impl_;
  XXH64_state_t* hash = XXH64_createState();
  XXH64_reset(hash, 0);
  for (const auto& shard : shard_paths) {
    auto m = map_file(shard);
    if (!m.ok()) {
      XXH64_freeState(hash);
      if (!index_path.empty() && m.status().code() == StatusCode::not_found)
        return Status(StatusCode::not_found,
                      shard.string() + ": listed in " + index_path.filename().string() +
                          " but missing; download every shard of the checkpoint");
      return m.status();
    }
    uint32_t file_index = uint32_t(impl.maps.size());
    size_t first = impl.tensors.size();
    Status st = parse_shard(*m.value(), file_index, impl.tensors);
    if (!st.ok()) {
      XXH64_freeState(hash);
      return st;
    }
    // The fingerprint covers the 8-byte length and the header JSON (already validated).
    const Mapping& mp = *m.value();
    uint64_t hdr = 0;
    for (int i = 7; i >= 0; --i) hdr = (hdr << 8) | uint64_t(std::to_integer<uint8_t>(mp.base[i]));
    XXH64_update(hash, mp.base, size_t(8 + hdr));
    // Every tensor of a shard must be listed for that shard in the index, and vice versa below.
    if (!index_path.empty()) {
      std::string fname = shard.filename().string();
      for (size_t i = first; i < impl.tensors.size(); ++i) {
        auto it = weight_map.find(impl.tensors[i].name);
        if (it == weight_map.end() || it->second != fname) {
          XXH64_freeState(hash);
          return Status(StatusCode::corrupt_data,
                        shard.string() + ": holds tensor " + in_quotes(impl.tensors[i].name) +
                            (it == weight_map.end()
                                 ? " that " + index_path.filename().string() + " does not list"
                                 : " that " + index_path.filename().string() + " places in " +
                                       it->second) +
                            "; the index and the shards disagree: download them again");
        }
      }
    }
    impl.files.push_back(shard);
    impl.maps.push_back(std::move(m.value()));
  }
  impl.fingerprint = XXH64_digest(hash);
  XXH64_freeState(hash);

  std::sort(impl.tensors.begin(), impl.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  for (size_t i = 1; i < impl.tensors.size(); ++i)
    if (impl.tensors[i].name == impl.tensors[i - 1].name)
      return Status(StatusCode::corrupt_data,
                    "tensor " + in_quotes(impl.tensors[i].name) + " is stored twice, in " +
                        impl.files[impl.tensors[i - 1].file_index].string() + " and " +
                        impl.files[impl.tensors[i].file_index].string());
  for (const auto& [name, shard] : weight_map)
    if (!archive.find(name))
      return Status(StatusCode::corrupt_data,
                    index_path.string() + ": lists tensor " + in_quotes(name) + " in " + shard +
                        " but that shard does not hold it; download the checkpoint again");
  return archive;
}

const TensorInfo* SafetensorsArchive::find(std::string_view name) const {
  auto it = std::lower_bound(impl_->tensors.begin(), impl_->tensors.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  if (it == impl_->tensors.end() || it->name != name) return nullptr;
  return &*it;
}

std::span<const TensorInfo> SafetensorsArchive::tensors() const { return impl_->tensors; }
std::span<const std::filesystem::path> SafetensorsArchive::files() const { return impl_->files; }
uint64_t SafetensorsArchive::fingerprint() const { return impl_->fingerprint; }

void SafetensorsArchive::release_rows(const TensorInfo& t, int64_t row_begin, int64_t row_end) const {
  if (t.data.empty() || row_end <= row_begin) return;
  uint64_t row_bytes = uint64_t(t.cols()) * st_dtype_bytes(t.dtype);
  uintptr_t begin = reinterpret_cast<uintptr_t>(t.data.data()) + uint64_t(row_begin) * row_bytes;
  uintptr_t end = reinterpret_cast<uintptr_t>(t.data.data()) + uint64_t(row_end) * row_bytes;
  uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  // Only whole pages inside the range: neighbours may still be needed.
  begin = (begin + page - 1) / page * page;
  end = end / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace dse::importer
