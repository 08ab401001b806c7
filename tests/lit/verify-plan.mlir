// RUN: dse-opt --dse-verify-plan %s -split-input-file -verify-diagnostics | FileCheck %s

// A correct plan passes unchanged: a and c share bytes but are never live together.
// CHECK-LABEL: dsx.entry @decode
dsx.region "weights" {size = 256 : i64, alignment = 256 : i64}
dsx.region "kv_cache" {size = 0 : i64, alignment = 256 : i64}
dsx.region "arena" {size = 512 : i64, alignment = 256 : i64}
dsx.slot @w {region = "weights", dtype = "f32", shape = array<i64: 4, 4>, size = 64 : i64, offset = 0 : i64}
dsx.slot @tokens {region = "arena", dtype = "i32", shape = array<i64: 1>, size = 4 : i64, offset = 0 : i64}
dsx.slot @a {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64, offset = 256 : i64}
dsx.slot @b {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64, offset = 0 : i64}
dsx.slot @c {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64, offset = 256 : i64}
dsx.entry @decode attributes {max_tokens = 1 : i64, tokens = @tokens, logits = @c} {
  dsx.call "embed_f32_f32" [@tokens, @w, @a]
  dsx.call "matmul_f32_f32" [@a, @w, @b] {iparams = array<i64: 0>}
  dsx.call "matmul_f32_f32" [@b, @w, @c] {iparams = array<i64: 0>}
}

// -----

// Two arena slots live in the same call share bytes.
dsx.region "weights" {size = 256 : i64, alignment = 256 : i64}
dsx.region "kv_cache" {size = 0 : i64, alignment = 256 : i64}
dsx.region "arena" {size = 512 : i64, alignment = 256 : i64}
dsx.slot @w {region = "weights", dtype = "f32", shape = array<i64: 4, 4>, size = 64 : i64, offset = 0 : i64}
dsx.slot @tokens {region = "arena", dtype = "i32", shape = array<i64: 1>, size = 4 : i64, offset = 256 : i64}
// expected-error @+1 {{'dsx.slot' op (live in steps 1..2 of entry decode) overlaps b (live 2..3)}}
dsx.slot @a {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64, offset = 0 : i64}
dsx.slot @b {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64, offset = 0 : i64}
dsx.entry @decode attributes {max_tokens = 1 : i64, tokens = @tokens, logits = @b} {
  dsx.call "embed_f32_f32" [@tokens, @w, @a]
  dsx.call "matmul_f32_f32" [@a, @w, @b] {iparams = array<i64: 0>}
}

// -----

// A weight past the end of its region.
dsx.region "weights" {size = 256 : i64, alignment = 256 : i64}
dsx.region "kv_cache" {size = 0 : i64, alignment = 256 : i64}
dsx.region "arena" {size = 256 : i64, alignment = 256 : i64}
// expected-error @+1 {{offset 256 size 64 is not an aligned (256) range inside region weights of 256 bytes}}
dsx.slot @w {region = "weights", dtype = "f32", shape = array<i64: 4, 4>, size = 64 : i64, offset = 256 : i64}

// -----

// Planning has not run.
// expected-error @+1 {{no dsx.region "weights": run dse-plan-memory first}}
module {
  dsx.slot @w {region = "weights", dtype = "f32", shape = array<i64: 4, 4>, size = 64 : i64}
}
