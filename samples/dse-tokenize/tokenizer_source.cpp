// Resolves --tokenizer-json (file or folder) and loads it with load_tokenizer_json, or reads the
// tokenizer embedded in an --artifact through the runtime's own conversion and checks.
#include "tokenizer_source.h"

#include <filesystem>

#include "dse/formats/artifact_reader.h"
#include "dse/runtime/tokenizer_from_artifact.h"
#include "dse/tokenizer/load_tokenizer_json.h"

namespace dse::samples {

namespace {

Result<tokenizer::TokenizerData> load_from_artifact(const std::string& path) {
  Result<formats::ArtifactReader> reader = formats::ArtifactReader::open(path);
  if (!reader.ok()) return reader.status();
  const fb::Artifact* metadata = reader->metadata();
  if (!metadata->config()) {
    return Status(StatusCode::corrupt_data, path + ": the artifact has no model config table");
  }
  return runtime::tokenizer_data_from_artifact(metadata->tokenizer(), metadata->config()->vocab_size());
}

}  // namespace

Result<tokenizer::TokenizerData> load_tokenizer_data(const TokenizerSource& source) {
  namespace fs = std::filesystem;
  if (!source.artifact.empty()) {
    if (!source.tokenizer_json.empty()) {
      return Status(StatusCode::invalid_argument, "give --artifact or --tokenizer-json, not both");
    }
    return load_from_artifact(source.artifact);
  }
  if (source.tokenizer_json.empty()) {
    return Status(StatusCode::invalid_argument,
                  "no tokenizer given; pass --tokenizer-json DIR_OR_FILE (a Hugging Face model "
                  "folder or its tokenizer.json) or --artifact MODEL.dse");
  }
  std::error_code ec;
  fs::path json_path = source.tokenizer_json;
  if (fs::is_directory(json_path, ec)) json_path /= "tokenizer.json";
  if (!fs::exists(json_path, ec)) {
    return Status(StatusCode::not_found, "--tokenizer-json: " + json_path.string() +
                                             " does not exist; expected tokenizer.json or a "
                                             "folder that holds it");
  }
  std::string config = source.tokenizer_config;
  if (config.empty()) {
    const fs::path beside = json_path.parent_path() / "tokenizer_config.json";
    if (fs::exists(beside, ec)) config = beside.string();  // optional: no BOS/chat without it
  }
  return tokenizer::load_tokenizer_json(json_path.string(), config);
}

}  // namespace dse::samples
