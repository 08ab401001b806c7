// The kernel registry matches docs/KERNELS.md, and validate_cpu_call rejects malformed calls with
// messages that name the kernel, the operand and the problem.
#include <catch2/catch_test_macros.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "dse/cpu/kernel_limits.h"
#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

// Kernel names from the first column of the table in docs/KERNELS.md, `<w>` expanded as the
// row says ("w ∈ a,b,c" or "any w").
std::set<std::string> kernels_in_doc() {
  std::ifstream in(DSE_KERNELS_MD);
  REQUIRE(in.good());
  std::set<std::string> names;
  std::string line;
  const std::regex name_re("`([a-z0-9_]+(?:_<w>)?)`");
  bool in_kernel_table = false;  // the weight-format table above it also starts rows with `
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_kernel_table = line == "## The kernels";
    if (!in_kernel_table || line.rfind("| `", 0) != 0) continue;
    const std::string first = line.substr(0, line.find('|', 1));
    std::vector<std::string> formats;
    const auto in_pos = first.find("w ∈ ");
    if (in_pos != std::string::npos) {
      std::stringstream list(first.substr(in_pos + std::string("w ∈ ").size()));
      std::string f;
      while (std::getline(list, f, ',')) formats.push_back(f.substr(0, f.find_first_of(" |")));
    } else if (first.find("any w") != std::string::npos) {
      for (WeightFormat f : kAllWeightFormats) formats.emplace_back(weight_format_name(f));
    }
    for (std::sregex_iterator it(first.begin(), first.end(), name_re), end; it != end; ++it) {
      std::string name = (*it)[1];
      const auto w = name.find("_<w>");
      if (w == std::string::npos) {
        names.insert(name);
      } else {
        for (const auto& f : formats) names.insert(name.substr(0, w) + "_" + f);
      }
    }
  }
  return names;
}

// A valid matmul_f32_w4 call, to be broken one way at a time.
struct W4Call {
  Tensor x{DType::f32, {2, 64}}, w{DType::i4, {8, 64}, 32}, s{DType::f16, {8, 2}}, bias{DType::f32, {8}},
      out{DType::f32, {2, 8}};
  Call call;
  W4Call() {
    call.operands = {x.view, w.view, s.view, bias.view, out.view};
    call.iparams = {1};
  }
};

Status validate(const std::string& name, const Call& call) { return validate_cpu_call(kernel(name), call.get()); }

void expect_rejected(const Status& s, std::initializer_list<const char*> fragments) {
  INFO(s.message());
  CHECK(s.code() == StatusCode::invalid_argument);
  for (const char* f : fragments) CHECK(s.message().find(f) != std::string::npos);
}

}  // namespace

TEST_CASE("the registry has exactly the kernels that docs/KERNELS.md lists, for every weight format", "[cpu][registry]") {
  const std::set<std::string> doc = kernels_in_doc();
  CHECK(doc.size() == 24);
  std::set<std::string> registered;
  for (const CpuKernelInfo& k : cpu_kernels()) {
    CHECK(registered.insert(std::string(k.name)).second);  // unique
    CHECK(k.fn != nullptr);
    CHECK(k.check_shapes != nullptr);
    CHECK(k.operands.size() <= size_t(kMaxOperandSpecs));
  }
  CHECK(registered == doc);
  for (const auto& name : doc) CHECK(find_cpu_kernel(name) != nullptr);
  CHECK(find_cpu_kernel("matmul_f32_w3") == nullptr);
  CHECK(find_cpu_kernel("") == nullptr);
}

TEST_CASE("validate_cpu_call accepts a well-formed call", "[cpu][registry]") {
  W4Call c;
  Status s = validate("matmul_f32_w4", c.call);
  INFO(s.message());
  CHECK(s.ok());
}

TEST_CASE("validate_cpu_call rejects a wrong operand count for the parameters given", "[cpu][registry]") {
  W4Call c;
  c.call.iparams = {0};  // no bias: 4 operands expected, 5 given
  expect_rejected(validate("matmul_f32_w4", c.call), {"matmul_f32_w4", "expected 4 operands", "found 5"});
  W4Call d;
  d.call.operands.pop_back();
  expect_rejected(validate("matmul_f32_w4", d.call), {"expected 5 operands", "found 4"});
}

TEST_CASE("validate_cpu_call rejects a wrong dtype and names the operand and the expected dtype", "[cpu][registry]") {
  W4Call c;
  c.call.operands[1].dtype = DType::i8;
  expect_rejected(validate("matmul_f32_w4", c.call), {"operand 1 'weight'", "dtype I8", "expected I4"});
  W4Call d;
  d.call.operands[2].dtype = DType::f32;
  expect_rejected(validate("matmul_f32_w4", d.call), {"'scales'", "expected F16"});
}

TEST_CASE("validate_cpu_call rejects shapes that disagree", "[cpu][registry]") {
  {
    W4Call c;  // x has K = 48 but the weight has K = 64
    Tensor x(DType::f32, {2, 48});
    c.call.operands[0] = x.view;
    expect_rejected(validate("matmul_f32_w4", c.call), {"'x' [2, 48]", "dim 1 is 48, expected 64", "K"});
  }
  {
    W4Call c;  // scales for group 16 while the weight says 32
    Tensor s(DType::f16, {8, 4});
    c.call.operands[2] = s.view;
    expect_rejected(validate("matmul_f32_w4", c.call), {"'scales' [8, 4]", "expected 2", "group_size"});
  }
  {
    W4Call c;
    c.call.operands[1].group_size = 24;  // does not divide K = 64
    expect_rejected(validate("matmul_f32_w4", c.call), {"group_size 24"});
  }
  {
    W4Call c;
    Tensor out(DType::f32, {2, 9});
    c.call.operands[4] = out.view;
    expect_rejected(validate("matmul_f32_w4", c.call), {"'out'", "expected 8"});
  }
  {
    W4Call c;
    Tensor bias(DType::f32, {7});
    c.call.operands[3] = bias.view;
    expect_rejected(validate("matmul_f32_w4", c.call), {"'bias'"});
  }
}

TEST_CASE("validate_cpu_call rejects weight byte sizes that do not match shape and dtype", "[cpu][registry]") {
  W4Call c;
  c.call.operands[1].bytes = 8 * 64;  // as if one byte per element
  expect_rejected(validate("matmul_f32_w4", c.call), {"'weight'", "512 bytes", "expected 256"});
  W4Call d;
  d.call.operands[0].bytes = 100;  // an activation smaller than its shape
  expect_rejected(validate("matmul_f32_w4", d.call), {"'x'", "at least 512"});
  W4Call e;
  e.call.operands[0].data = nullptr;
  expect_rejected(validate("matmul_f32_w4", e.call), {"'x'", "null"});
}

TEST_CASE("validate_cpu_call rejects parameters out of range, wrong counts and non-finite floats", "[cpu][registry]") {
  W4Call c;
  c.call.iparams = {2};
  expect_rejected(validate("matmul_f32_w4", c.call), {"'has_bias' is 2", "[0, 1]"});
  W4Call d;
  d.call.iparams = {};
  expect_rejected(validate("matmul_f32_w4", d.call), {"expected 1 integer parameters, found 0"});
  Tensor x(DType::f32, {2, 8}), w(DType::f32, {8}), out(DType::f32, {2, 8});
  Call norm;
  norm.operands = {x.view, w.view, out.view};
  norm.fparams = {std::nanf("")};
  expect_rejected(validate("rms_norm_f32", norm), {"'eps'", "finite"});
}

TEST_CASE("validate_cpu_call enforces the kernels' stack-buffer bounds", "[cpu][registry]") {
  const int64_t big = kMaxHeadDim + 8;
  Tensor q(DType::f32, {1, big}), k(DType::f32, {4, big}), v(DType::f32, {4, big}), out(DType::f32, {1, big});
  Call attn;
  attn.operands = {q.view, k.view, v.view, out.view};
  attn.iparams = {1, 1, big, big};
  attn.fparams = {0.1f};
  expect_rejected(validate("attention_f32", attn), {"attention_f32", "'head_dim' is 520", "[1, 512]"});

  const int64_t c = kMaxLatentRank * 2;
  Tensor mq(DType::f32, {1, 12}), lat(DType::f32, {4, c}), pe(DType::f32, {4, 4}), uk(DType::f32, {1, 8, c}),
      uv(DType::f32, {1, 8, c}), mo(DType::f32, {1, 8});
  Call mla;
  mla.operands = {mq.view, lat.view, pe.view, uk.view, uv.view, mo.view};
  mla.iparams = {1, 8, 4, c, 8};
  mla.fparams = {0.1f};
  expect_rejected(validate("mla_attention_f32", mla), {"'kv_lora_rank'"});

  Tensor logits(DType::f32, {1, kMaxExperts * 2}), ids(DType::i32, {1, 2}), wts(DType::f32, {1, 2});
  Call route;
  route.operands = {logits.view, ids.view, wts.view};
  route.iparams = {2, 1, 1, 0, 0, 0, 0};
  route.fparams = {1.0f};
  expect_rejected(validate("moe_route_f32", route), {"2048 experts", "at most 1024"});
}

TEST_CASE("validate_cpu_call rejects routing configurations HF could not run", "[cpu][registry]") {
  Tensor logits(DType::f32, {1, 8}), ids(DType::i32, {1, 4}), wts(DType::f32, {1, 4});
  Call route;
  route.operands = {logits.view, ids.view, wts.view};
  route.iparams = {4, 4, 1, 0, 1, 0, 0};  // one kept group of 2 experts cannot supply 4
  route.fparams = {1.0f};
  expect_rejected(validate("moe_route_f32", route), {"top_k 4", "kept groups"});
  route.iparams = {4, 3, 2, 0, 1, 0, 0};  // 3 groups do not divide 8 experts
  expect_rejected(validate("moe_route_f32", route), {"n_group 3"});
  route.iparams = {4, 8, 8, 1, 2, 0, 0};  // noaux_tc needs groups of at least 2
  expect_rejected(validate("moe_route_f32", route), {"noaux_tc"});
}

TEST_CASE("validate_cpu_call rejects an output that overlaps an input it may not alias", "[cpu][registry]") {
  W4Call c;
  TensorView out = c.call.operands[0];  // out aliasing x: same bytes
  out.shape[1] = 8;
  out.bytes = 2 * 8 * 4;
  c.call.operands[4] = out;
  expect_rejected(validate("matmul_f32_w4", c.call), {"'out'", "overlaps", "'x'"});
  // rms_norm may work in place, but not on a shifted view of its input.
  Tensor x(DType::f32, {2, 8}), w(DType::f32, {8});
  Call norm;
  TensorView shifted = x.view;
  shifted.data = x.f32() + 1;
  norm.operands = {x.view, w.view, x.view};
  norm.fparams = {1e-6f};
  CHECK(validate("rms_norm_f32", norm).ok());
  norm.operands[2] = shifted;
  expect_rejected(validate("rms_norm_f32", norm), {"overlaps"});
}

TEST_CASE("validate_cpu_call checks every operand of a quantized MoE call", "[cpu][registry]") {
  Tensor x(DType::f32, {2, 64}), ids(DType::i32, {2, 2}), wts(DType::f32, {2, 2});
  Tensor gu(DType::i4, {4, 32, 64}, 32), gus(DType::f16, {4, 32, 2}), dn(DType::i4, {4, 64, 16}, 16),
      dns(DType::f16, {4, 64, 1}), out(DType::f32, {2, 64});
  Call call;
  call.operands = {x.view, ids.view, wts.view, gu.view, gus.view, dn.view, dns.view, out.view};
  call.iparams = {4, 2, 16, 64};
  Status ok = validate("moe_ffn_f32_w4", call);
  INFO(ok.message());
  CHECK(ok.ok());
  Tensor bad_scales(DType::f16, {3, 32, 2});
  call.operands[4] = bad_scales.view;
  expect_rejected(validate("moe_ffn_f32_w4", call), {"'gate_up_scales'", "expected 4", "expert count"});
  call.operands[4] = gus.view;
  call.iparams = {4, 2, 16, 32};
  expect_rejected(validate("moe_ffn_f32_w4", call), {"'x'", "hidden_size"});
}

// Quantized KV caches (docs/KERNELS.md "Quantized KV caches"): an I8 or FP8E4M3 cache is followed
// by its F32 [S, groups] scale slot, and only then.
TEST_CASE("validate_cpu_call accepts a scale slot exactly after each quantized cache", "[cpu][registry]") {
  Tensor src(DType::f32, {2, 16}), c8(DType::i8, {8, 16}), cf8(DType::fp8e4m3, {8, 16}), c16(DType::f16, {8, 16});
  Tensor s2(DType::f32, {8, 2}), s3(DType::f32, {8, 3}), s_short(DType::f32, {6, 2}), s_f16(DType::f16, {8, 2});
  Call store;
  store.operands = {src.view, c8.view, s2.view};
  CHECK(validate("kv_store", store).ok());
  store.operands = {src.view, cf8.view, s2.view};
  CHECK(validate("kv_store", store).ok());
  store.operands = {src.view, c8.view};  // quantized cache without its scales
  expect_rejected(validate("kv_store", store), {"kv_store", "expected 3 operands", "F32 scale slot", "found 2"});
  store.operands = {src.view, c16.view, s2.view};  // an F16 cache has none
  expect_rejected(validate("kv_store", store), {"expected 2 operands", "found 3"});
  store.operands = {src.view, c8.view, s3.view};  // 3 groups do not split 16 values
  expect_rejected(validate("kv_store", store), {"'cache_scales' [8, 3]", "do not divide"});
  store.operands = {src.view, c8.view, s_short.view};
  expect_rejected(validate("kv_store", store), {"'cache_scales' [6, 2]", "expected 8", "per cache position"});
  store.operands = {src.view, c8.view, s_f16.view};
  expect_rejected(validate("kv_store", store), {"'cache_scales'", "dtype F16", "expected F32"});
  TensorView inside = c8.view;  // scales placed inside the cache they scale
  inside.dtype = DType::f32;
  inside.rank = 2;
  inside.shape[0] = 8;
  inside.shape[1] = 2;
  inside.bytes = 64;
  store.operands = {src.view, c8.view, inside};
  expect_rejected(validate("kv_store", store), {"'cache_scales'", "overlaps", "'cache'"});
}

TEST_CASE("validate_cpu_call checks the scales of quantized attention and MLA caches", "[cpu][registry]") {
  // GQA: 4 query heads, 2 KV heads of 8; one scale per (position, KV head).
  Tensor q(DType::f32, {2, 32}), k(DType::i8, {8, 16}), v(DType::fp8e4m3, {8, 16}), vf(DType::f32, {8, 16});
  Tensor ks(DType::f32, {8, 2}), vs(DType::f32, {8, 2}), per_row(DType::f32, {8, 1}), out(DType::f32, {2, 32});
  Call attn;
  attn.iparams = {4, 2, 8, 8};
  attn.fparams = {0.3f};
  attn.operands = {q.view, k.view, ks.view, v.view, vs.view, out.view};
  Status ok = validate("attention_f32", attn);
  INFO(ok.message());
  CHECK(ok.ok());
  attn.operands = {q.view, k.view, ks.view, vf.view, out.view};  // quantized K, F32 V
  CHECK(validate("attention_f32", attn).ok());
  attn.operands = {q.view, k.view, v.view, vs.view, out.view};  // K's scales missing: V is bound in their place
  expect_rejected(validate("attention_f32", attn), {"operand 2 'k_scales'", "dtype FP8E4M3", "expected F32"});
  attn.operands = {q.view, k.view, ks.view, v.view, out.view};  // V's scales missing
  expect_rejected(validate("attention_f32", attn), {"expected 6 operands", "found 5"});
  attn.operands = {q.view, k.view, per_row.view, v.view, vs.view, out.view};
  expect_rejected(validate("attention_f32", attn), {"'k_scales' [8, 1]", "expected 2", "per KV head"});
  attn.operands = {q.view, k.view, ks.view, v.view, ks.view, q.view};  // out over q
  expect_rejected(validate("attention_f32", attn), {"overlaps"});

  Tensor mq(DType::f32, {1, 2 * 12}), lat(DType::fp8e4m3, {8, 16}), pe(DType::i8, {8, 4}), uk(DType::f32, {2, 8, 16}),
      uv(DType::f32, {2, 6, 16}), mo(DType::f32, {1, 12});
  Call mla;
  mla.iparams = {2, 8, 4, 16, 6};
  mla.fparams = {0.2f};
  mla.operands = {mq.view, lat.view, per_row.view, pe.view, per_row.view, uk.view, uv.view, mo.view};
  CHECK(validate("mla_attention_f32", mla).ok());
  mla.operands = {mq.view, lat.view, ks.view, pe.view, per_row.view, uk.view, uv.view, mo.view};
  expect_rejected(validate("mla_attention_f32", mla), {"'latent_scales' [8, 2]", "expected 1", "per latent row"});
  mla.operands = {mq.view, lat.view, per_row.view, pe.view, uk.view, uv.view, mo.view};
  expect_rejected(validate("mla_attention_f32", mla), {"expected 8 operands", "found 7"});
}
