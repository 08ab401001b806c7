// zstd streaming compression (ZSTD_compressStream2) and one-shot decoding into the caller's buffer.
#include "segment_codec.h"

#include <utility>

#include <zstd.h>
#include <zstd_errors.h>

namespace dse::formats::detail {
namespace {

ZSTD_CCtx* cctx(void* p) { return static_cast<ZSTD_CCtx*>(p); }

Status zstd_status(size_t code, const std::string& what) {
  return Status(StatusCode::internal, "zstd failed while " + what + ": " + ZSTD_getErrorName(code));
}

}  // namespace

ZstdEncoder::ZstdEncoder() : ctx_(ZSTD_createCCtx()), out_(ZSTD_CStreamOutSize()) {}

ZstdEncoder::~ZstdEncoder() { ZSTD_freeCCtx(cctx(ctx_)); }

ZstdEncoder::ZstdEncoder(ZstdEncoder&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), out_(std::move(other.out_)) {}

ZstdEncoder& ZstdEncoder::operator=(ZstdEncoder&& other) noexcept {
  if (this != &other) {
    ZSTD_freeCCtx(cctx(ctx_));
    ctx_ = std::exchange(other.ctx_, nullptr);
    out_ = std::move(other.out_);
  }
  return *this;
}

Status ZstdEncoder::begin(int level, std::optional<uint64_t> pledged_size) {
  if (ctx_ == nullptr) return Status(StatusCode::out_of_memory, "cannot allocate a zstd compression context");
  if (out_.empty()) out_.resize(ZSTD_CStreamOutSize());
  size_t rc = ZSTD_CCtx_reset(cctx(ctx_), ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(rc)) return zstd_status(rc, "resetting the compression context");
  rc = ZSTD_CCtx_setParameter(cctx(ctx_), ZSTD_c_compressionLevel, level);
  if (ZSTD_isError(rc)) return zstd_status(rc, "setting compression level " + std::to_string(level));
  // The segment checksum covers the stored bytes already; a second one inside the frame would
  // cost time and bytes for nothing.
  rc = ZSTD_CCtx_setParameter(cctx(ctx_), ZSTD_c_checksumFlag, 0);
  if (ZSTD_isError(rc)) return zstd_status(rc, "disabling the frame checksum");
  if (pledged_size) {
    rc = ZSTD_CCtx_setPledgedSrcSize(cctx(ctx_), *pledged_size);
    if (ZSTD_isError(rc)) return zstd_status(rc, "recording the segment size");
  }
  return Status::Ok();
}

Status ZstdEncoder::compress(std::span<const std::byte> input, bool last, const ByteSink& sink) {
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const size_t remaining = ZSTD_compressStream2(cctx(ctx_), &out, &in, mode);
    if (ZSTD_isError(remaining)) return zstd_status(remaining, "compressing a segment");
    if (out.pos > 0) DSE_RETURN_IF_ERROR(sink(std::span<const std::byte>(out_.data(), out.pos)));
    // e_continue: done once all input is consumed; e_end: done once the frame is flushed.
    const bool done = last ? remaining == 0 : in.pos == in.size;
    if (done) return Status::Ok();
  }
}

int zstd_min_level() { return ZSTD_minCLevel(); }
int zstd_max_level() { return ZSTD_maxCLevel(); }

Status zstd_decode(std::span<const std::byte> src, std::span<std::byte> dst, const std::string& what) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) return Status(StatusCode::out_of_memory, "cannot allocate a zstd decompression context");
  // Decoding straight into the destination: no window buffer, no intermediate copy.
  const size_t rc = ZSTD_decompressDCtx(dctx, dst.data(), dst.size(), src.data(), src.size());
  ZSTD_freeDCtx(dctx);
  if (ZSTD_isError(rc)) {
    const bool too_big = ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall;
    return Status(StatusCode::corrupt_data,
                  what + ": zstd data " +
                      (too_big ? "decodes to more than the " + std::to_string(dst.size()) +
                                     " raw bytes the segment table records"
                               : std::string("cannot be decoded (") + ZSTD_getErrorName(rc) + ")") +
                      "; the artifact is corrupt: recompile or copy it again");
  }
  if (rc != dst.size()) {
    return Status(StatusCode::corrupt_data,
                  what + ": zstd data decodes to " + std::to_string(rc) + " bytes, the segment table records " +
                      std::to_string(dst.size()) + "; the artifact is corrupt: recompile or copy it again");
  }
  return Status::Ok();
}

}  // namespace dse::formats::detail
