// Steps of an artifact with several cache slots (dsc --max-batch): kv_store, rope, attention and
// MLA attention on the GPU against the CPU kernels, for a batched decode step (row t is slot t at
// positions[t]), for one sequence in a slot other than 0, and for steps naming a bad slot or
// position. Every cache has 3 slots of S rows, filled with random data, so a kernel that reads or
// writes another slot's rows (or slot 0's) shows up as a mismatch.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cmath>

#include "gpu_test_support.h"

namespace dse::gpu::test {
namespace {

constexpr int64_t kSlots = 3;

// Batched decode: row t is slot t at positions[t].
StepInfo batched_step(std::vector<int64_t> positions, int64_t slots = kSlots) {
  StepInfo s;
  s.n_tokens = int64_t(positions.size());
  s.slots = slots;
  s.batched = 1;
  for (size_t t = 0; t < positions.size(); ++t) s.positions[t] = positions[t];
  return s;
}

// One sequence in `slot`: n_tokens rows at positions start_pos...
StepInfo slot_step(int64_t n_tokens, int64_t start_pos, int64_t slot, int64_t slots = kSlots) {
  StepInfo s;
  s.n_tokens = n_tokens;
  s.start_pos = start_pos;
  s.slot = slot;
  s.slots = slots;
  return s;
}

// The good steps of a cache with S rows per slot: positions {5, 0, 9} (and, for S > 12, the slots'
// last rows, across several attention chunks), and slot 2 of 3 at positions 4..6.
StepInfo good_step(int which, int64_t s) {
  if (which == 0) return batched_step({5, 0, 9});
  if (which == 1) return batched_step({s - 95, 0, s - 1});
  return slot_step(3, 4, 2);
}

// Steps every kernel must refuse for a cache (or table) of `limit` rows per slot.
StepInfo bad_step(int which, int64_t limit) {
  switch (which) {
    case 0: return batched_step({5, limit, 0});     // row 1 past its slot
    case 1: return batched_step({5, 0, 9, 1});      // row 3 names slot 3 of 3
    case 2: return slot_step(2, 4, 3);              // slot 3 of 3
    case 3: return slot_step(3, limit - 2, 2);      // row 2 past slot 2
    case 4: return batched_step({-1, 0, 9});        // a negative position
    default: return slot_step(1, 0, 0, 0);          // no slots at all
  }
}

const char* bad_step_name(int which) {
  static const char* names[] = {"position past the slot", "row past the slots", "slot past the slots",
                                "one sequence past its slot", "negative position", "zero slots"};
  return names[which];
}

}  // namespace

TEST_CASE("GPU kv_store writes each row to its own slot as the CPU kernel, for every cache dtype",
          "[gpu][kv_store][batch]") {
  const DType dt = GENERATE(DType::f32, DType::f16, DType::i8, DType::fp8e4m3);
  const int which = GENERATE(0, 2);
  const int64_t s = 12, width = 2 * 24;
  std::mt19937 rng(uint32_t(40 + which));
  Case c;
  c.kernel = "kv_store";
  c.ops.push_back(f32_tensor({4, width}, rng, -3.0f, 3.0f));
  for (Operand& o : any_cache(dt, {kSlots * s, width}, 2, rng)) c.ops.push_back(o);
  c.step = good_step(which, s);
  INFO("cache " << cpu::dtype_name(dt) << " step " << which);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(o.cpu[1] != c.ops[1].bytes);  // the step wrote something
  CHECK(same_bytes(o, 1));
  if (c.ops.size() > 2) CHECK(same_bytes(o, 2));  // the scale table: rows by slot as the cache
}

TEST_CASE("GPU kv_store reports a bad slot or position as the CPU kernel and writes nothing",
          "[gpu][kv_store][batch]") {
  const DType dt = GENERATE(DType::f16, DType::i8);
  const int which = GENERATE(0, 1, 2, 3, 4, 5);
  const int64_t s = 12, width = 2 * 24;
  std::mt19937 rng(50);
  Case c;
  c.kernel = "kv_store";
  c.ops.push_back(f32_tensor({4, width}, rng));
  for (Operand& o : any_cache(dt, {kSlots * s, width}, 2, rng)) c.ops.push_back(o);
  c.step = bad_step(which, s);
  INFO(bad_step_name(which) << ", cache " << cpu::dtype_name(dt));
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  for (size_t i = 1; i < c.ops.size(); ++i) CHECK(o.gpu[i] == c.ops[i].bytes);
}

TEST_CASE("GPU RoPE rotates each row by its own position as the CPU kernel", "[gpu][rope][batch]") {
  const int64_t interleaved = GENERATE(0, 1);
  const int which = GENERATE(0, 2);
  std::mt19937 rng(uint32_t(60 + which));
  Case c;
  c.kernel = "rope_f32";
  const int64_t heads = 3, head_dim = 24, rot_dim = 16;
  c.ops.push_back(f32_tensor({4, heads * head_dim}, rng));
  c.ops.push_back(f32_tensor({20, rot_dim}, rng));  // one table for every slot
  c.iparams = {heads, head_dim, 8, rot_dim, interleaved};
  c.step = good_step(which, 12);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 0, 1e-6) == 0);
}

TEST_CASE("GPU RoPE reports a bad slot or position as the CPU kernel and rotates nothing", "[gpu][rope][batch]") {
  const int which = GENERATE(0, 1, 2, 3, 4, 5);
  std::mt19937 rng(61);
  Case c;
  c.kernel = "rope_f32";
  c.ops.push_back(f32_tensor({4, 32}, rng));
  c.ops.push_back(f32_tensor({10, 16}, rng));
  c.iparams = {2, 16, 0, 16, 0};
  c.step = bad_step(which, 10);  // the table's rows are the limit, not a slot's share of them
  INFO(bad_step_name(which));
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(o.gpu[0] == c.ops[0].bytes);
}

namespace {

// GQA attention over caches of kSlots slots of s rows: q [4, 4*32], Hkv 2.
Case batch_attention_case(int64_t s, DType kd, DType vd, const StepInfo& step, std::mt19937& rng) {
  const int64_t hq = 4, hkv = 2, d = 32, dv = 32;
  Case c;
  c.kernel = "attention_f32";
  c.ops.push_back(f32_tensor({4, hq * d}, rng));
  for (Operand& o : any_cache(kd, {kSlots * s, hkv * d}, hkv, rng)) c.ops.push_back(o);
  for (Operand& o : any_cache(vd, {kSlots * s, hkv * dv}, hkv, rng)) c.ops.push_back(o);
  c.ops.push_back(sentinel_f32({4, hq * dv}));
  c.iparams = {hq, hkv, d, dv};
  c.fparams = {float(1.0 / std::sqrt(double(d)))};
  c.step = step;
  return c;
}

// MLA attention over latent and rope caches of kSlots slots of s rows: H 2, dn 16, dr 8, C 64, dv 16.
Case batch_mla_case(int64_t s, DType cd, DType pd, const StepInfo& step, std::mt19937& rng) {
  const int64_t h = 2, dn = 16, dr = 8, lat = 64, dv = 16;
  Case c;
  c.kernel = "mla_attention_f32";
  c.ops.push_back(f32_tensor({4, h * (dn + dr)}, rng));
  for (Operand& o : any_cache(cd, {kSlots * s, lat}, 1, rng)) c.ops.push_back(o);
  for (Operand& o : any_cache(pd, {kSlots * s, dr}, 1, rng)) c.ops.push_back(o);
  c.ops.push_back(dense_weight(DType::bf16, {h, dn, lat}, rng, 0.1f));
  c.ops.push_back(dense_weight(DType::bf16, {h, dv, lat}, rng, 0.1f));
  c.ops.push_back(sentinel_f32({4, h * dv}));
  c.iparams = {h, dn, dr, lat, dv};
  c.fparams = {float(1.0 / std::sqrt(double(dn + dr)))};
  c.step = step;
  return c;
}

}  // namespace

// S = 300 rows per slot is cut into several chunks (split_softmax.cuh plans per slot), so the
// positions {205, 0, 299} cross chunk boundaries inside their slots.
TEST_CASE("GPU attention attends each row's own slot as the CPU kernel (GQA, f16 and i8 caches)",
          "[gpu][attention][batch]") {
  const DType kd = GENERATE(DType::f16, DType::i8);
  const int64_t s = GENERATE(12, 300);
  const int which = GENERATE(0, 1, 2);
  if (which == 1 && s == 12) SKIP("positions {S - 95, 0, S - 1} need S > 95");
  std::mt19937 rng(uint32_t(70 + s + which));
  const Case c = batch_attention_case(s, kd, DType::f16, good_step(which, s), rng);
  INFO("k cache " << cpu::dtype_name(kd) << " S " << s << " step " << which);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, 1e-4, 1e-6) == 0);
}

TEST_CASE("GPU attention reports a bad slot or position as the CPU kernel and writes nothing",
          "[gpu][attention][batch]") {
  const int which = GENERATE(0, 1, 2, 3, 4, 5);
  std::mt19937 rng(71);
  const Case c = batch_attention_case(12, DType::f16, DType::f16, bad_step(which, 12), rng);
  INFO(bad_step_name(which));
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(same_bytes(o, 3));
}

TEST_CASE("GPU MLA attention attends each row's own slot of both caches as the CPU kernel",
          "[gpu][mla][batch]") {
  const DType cd = GENERATE(DType::f16, DType::i8);
  const int64_t s = GENERATE(12, 300);
  const int which = GENERATE(0, 1, 2);
  if (which == 1 && s == 12) SKIP("positions {S - 95, 0, S - 1} need S > 95");
  std::mt19937 rng(uint32_t(80 + s + which));
  const Case c = batch_mla_case(s, cd, DType::f32, good_step(which, s), rng);
  INFO("latent cache " << cpu::dtype_name(cd) << " S " << s << " step " << which);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, 2e-4, 1e-6) == 0);
}

TEST_CASE("GPU MLA attention reports a bad slot or position as the CPU kernel and writes nothing",
          "[gpu][mla][batch]") {
  const int which = GENERATE(0, 1, 2, 3, 4, 5);
  std::mt19937 rng(81);
  const Case c = batch_mla_case(12, DType::f16, DType::f16, bad_step(which, 12), rng);
  INFO(bad_step_name(which));
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(same_bytes(o, 5));
}

}  // namespace dse::gpu::test
