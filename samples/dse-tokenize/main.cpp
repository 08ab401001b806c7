// dse-tokenize: encode text to ids, decode ids to text, measure encode speed.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "bench.h"
#include "dse/tokenizer/stream_decoder.h"
#include "dse/tokenizer/tokenizer.h"
#include "dse/tokenizer/utf8.h"
#include "tokenizer_source.h"

namespace {

constexpr const char* kHelp = R"(dse-tokenize: byte-level BPE tokenizer of the DeepSeek Edge SDK (same ids as Hugging Face tokenizers)

usage:
  dse-tokenize --tokenizer-json PATH [options] encode TEXT...
  dse-tokenize --tokenizer-json PATH [options] decode ID...
  dse-tokenize --tokenizer-json PATH [options] encode --stdin     (text from standard input)
  dse-tokenize --tokenizer-json PATH [options] decode --stdin     (ids from standard input)
  dse-tokenize --tokenizer-json PATH --bench FILE [--bench-repeats N]
  dse-tokenize --artifact MODEL.dse [options] encode|decode ...   (the tokenizer dsc embedded)

options:
  --tokenizer-json PATH    tokenizer.json, or a folder holding it (a Hugging Face model folder)
  --artifact PATH          a compiled model (.dse): use the tokenizer embedded in it, as the
                           runtime does (instead of --tokenizer-json)
  --tokenizer-config PATH  tokenizer_config.json (default: the one beside tokenizer.json, if any);
                           gives BOS/EOS and the chat format
  --stdin                  read the text (encode) or the ids (decode, separated by spaces, commas
                           or newlines) from standard input instead of the arguments
  --add-special            encode: add BOS/EOS as the tokenizer config says (add_bos_token,
                           add_eos_token), as transformers' add_special_tokens=True does
  --skip-special           decode: leave special tokens out of the text
  --tokens                 encode: print one line per id: the id, a tab, the token's bytes
                           (controls and bytes of split characters escaped as \xNN);
                           decode: stream the ids one at a time through the streaming decoder
                           and print the text as it would appear
  --lossy                  encode: replace invalid UTF-8 in the input by U+FFFD instead of failing
  --bench FILE             encode FILE in chunks of whole lines (>= 16 KiB), print MB/s on one
                           thread (best of N passes after a warm-up pass)
  --bench-repeats N        timed passes for --bench (default 3)
  --help                   this text

Several TEXT arguments are joined with single spaces. encode prints the ids on one line,
separated by spaces; decode prints the text followed by a newline.
Exit status: 0 on success, 1 on an error (with a message on standard error), 2 on bad usage.
)";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "dse-tokenize: %s\n(see dse-tokenize --help)\n", message.c_str());
  return 2;
}

int fail(const dse::Status& status) {
  std::fprintf(stderr, "dse-tokenize: %s: %s\n", dse::status_code_name(status.code()),
               status.message().c_str());
  return 1;
}

// Control characters, and every byte of a token that is not whole UTF-8 (part of a character
// split over tokens), are shown as C escapes so that the terminal never sees half a character.
std::string escape_bytes(std::string_view bytes) {
  std::string out;
  const bool whole = dse::tokenizer::find_invalid_utf8(bytes) == bytes.size();
  for (unsigned char c : bytes) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !whole)) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  dse::samples::TokenizerSource source;
  std::string command, bench_file;
  std::vector<std::string> args;
  bool from_stdin = false, add_special = false, skip_special = false, tokens = false, lossy = false;
  int bench_repeats = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--tokenizer-json") {
      if (!value(source.tokenizer_json)) return usage_error("--tokenizer-json needs a path");
    } else if (a == "--artifact") {
      if (!value(source.artifact)) return usage_error("--artifact needs a path");
    } else if (a == "--tokenizer-config") {
      if (!value(source.tokenizer_config)) return usage_error("--tokenizer-config needs a path");
    } else if (a == "--bench") {
      if (!value(bench_file)) return usage_error("--bench needs a file");
    } else if (a == "--bench-repeats") {
      std::string n;
      if (!value(n) || std::atoi(n.c_str()) < 1) return usage_error("--bench-repeats needs N >= 1");
      bench_repeats = std::atoi(n.c_str());
    } else if (a == "--stdin") {
      from_stdin = true;
    } else if (a == "--add-special") {
      add_special = true;
    } else if (a == "--skip-special") {
      skip_special = true;
    } else if (a == "--tokens") {
      tokens = true;
    } else if (a == "--lossy") {
      lossy = true;
    } else if (a.size() > 2 && a.rfind("--", 0) == 0) {
      return usage_error("unknown option " + a);
    } else if (command.empty() && bench_file.empty()) {
      command = a;
    } else {
      args.push_back(a);
    }
  }
  if (bench_file.empty() && command != "encode" && command != "decode") {
    return usage_error(command.empty() ? "expected a command: encode or decode"
                                       : "unknown command \"" + command + "\"; expected encode or decode");
  }

  auto data = dse::samples::load_tokenizer_data(source);
  if (!data.ok()) return fail(data.status());
  auto tok = dse::tokenizer::Tokenizer::create(std::move(data.value()));
  if (!tok.ok()) return fail(tok.status());

  if (!bench_file.empty()) {
    dse::Status s = dse::samples::run_encode_bench(tok.value(), bench_file, bench_repeats);
    return s.ok() ? 0 : fail(s);
  }

  std::string input;
  if (from_stdin) {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    for (size_t i = 0; i < args.size(); ++i) input += (i ? " " : "") + args[i];
  }

  if (command == "encode") {
    if (lossy) {
      std::string repaired;
      dse::tokenizer::append_utf8_lossy(input, repaired);
      input.swap(repaired);
    }
    std::vector<int32_t> ids;
    dse::Status s = tok->encode(input, add_special, ids);
    if (!s.ok()) return fail(s);
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (tokens) {
        std::printf("%d\t%s\n", ids[i], escape_bytes(tok->token_bytes(ids[i])).c_str());
      } else {
        line += (i ? " " : "") + std::to_string(ids[i]);
      }
    }
    if (!tokens) std::printf("%s\n", line.c_str());
    return 0;
  }

  // decode
  std::vector<int32_t> ids;
  {
    for (char& c : input) {
      if (c == ',') c = ' ';
    }
    std::istringstream in(input);
    std::string word;
    while (in >> word) {
      char* end = nullptr;
      const long v = std::strtol(word.c_str(), &end, 10);
      if (end == word.c_str() || *end != '\0' || v < 0 || v > INT32_MAX) {
        return usage_error("decode: \"" + word + "\" is not a token id (a number >= 0)");
      }
      ids.push_back(static_cast<int32_t>(v));
    }
  }
  std::string text;
  if (tokens) {
    dse::tokenizer::StreamDecoder stream(tok.value(), skip_special);
    for (int32_t id : ids) {
      std::string piece;
      dse::Status s = stream.push(id, piece);
      if (!s.ok()) return fail(s);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    stream.finish(text);
  } else {
    dse::Status s = tok->decode(ids, text, skip_special);
    if (!s.ok()) return fail(s);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}
