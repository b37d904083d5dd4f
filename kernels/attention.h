// Attention of new query positions against cached keys and values, for inference:
//   out[b, h, i] = Σ_j softmax_j(scale · q[b, h, i] · k[b, kvh, j] + mask[b, i, j]) · v[b, kvh, j]
// with grouped-query heads: query head h reads kv head h / groups. One call covers a range of
// units, a unit being one (batch row, kv head) pair and a block of up to 16 of its groups ·
// queries query vectors, which read that head's keys and values while they sit in the L1/L2
// cache. Nothing is materialised beyond one query's scores (no [queries, keys] matrix).
//
// Why: torch's batched matmul on the [batch, kv_heads, ...] views of a KV cache runs one small
// GEMM call per (row, head) pair, with a tensor view each, and materialises the scores; at batch
// 64 a decode step of the built-in reasoner spent more time there than in all its linears, and
// the prefill of 64 prompts of 60 tokens 2x longer than here (docs/generation.md).
//
// attention_ref is the reference (double accumulation, std::exp in double, every key);
// attention_forward the fast paths (float32 with sums in a fixed order, so a unit's result does
// not depend on how the units are split; a polynomial e^x; masked keys at either end of a query's
// range skipped). Both treat the mask as additive; a query whose every key is masked with the
// most negative float gets the mean of its values, as torch's softmax of equal scores does. The
// caller splits the units over its threads; concurrent calls on disjoint unit ranges are safe.
//
// Check: tst_kernels_attention (against attention_ref on odd shapes, masks, strides, groups,
// float32, INT8, INT4 and FP8 caches).
// Benchmark: bench_generate (batch 64 decode of the built-in reasoner).
#pragma once

#include "kernels/fused_linear.h"

#include <cstdint>

namespace qb::kernels {

// Element strides of the views; the last (head_dim) dimension is contiguous in every one.
struct AttentionArgs
{
    int64_t batch = 0, kv_heads = 0, groups = 1; // query heads = kv_heads · groups
    int64_t queries = 1;                          // new positions per row
    int64_t keys = 0;                             // cached positions (the new ones included)
    int64_t head_dim = 0;
    float scale = 1.0f; // usually 1 / sqrt(head_dim)

    const float *q = nullptr; // [batch, kv_heads · groups, queries, head_dim]
    int64_t q_batch = 0, q_head = 0, q_query = 0;
    const float *k = nullptr; // [batch, kv_heads, keys, head_dim]
    int64_t k_batch = 0, k_head = 0, k_key = 0;
    const float *v = nullptr; // [batch, kv_heads, keys, head_dim]
    int64_t v_batch = 0, v_head = 0, v_key = 0;
    // A quantized cache instead of k and v (which are then null), read as stored (nothing is
    // decoded to a float32 copy), one scale per (row, kv head, key): INT8, key = k8 · k_scale;
    // packed INT4, key = (nibble - 8) · k_scale with element 2i in the low nibble of byte i; or
    // FP8 e4m3 codes (fp8_e4m3.h), key = decode(code) · k_scale (KVCache's layouts). The strides
    // above count elements, bytes for INT4; scales [batch, kv_heads, keys], key stride 1.
    const int8_t *k8 = nullptr, *v8 = nullptr;
    const uint8_t *k4 = nullptr, *v4 = nullptr;
    const uint8_t *k_e4m3 = nullptr, *v_e4m3 = nullptr;
    const float *k_scale = nullptr, *v_scale = nullptr;
    int64_t k_scale_batch = 0, k_scale_head = 0, v_scale_batch = 0, v_scale_head = 0;
    const float *mask = nullptr; // additive [batch, queries, keys], or null (0 stride: broadcast)
    int64_t mask_batch = 0, mask_query = 0;
    float *out = nullptr; // [batch, kv_heads · groups, queries, head_dim]
    int64_t out_batch = 0, out_head = 0, out_query = 0;
};

int64_t attention_units(const AttentionArgs &a);
// Floating-point operations of one unit (for splitting work over threads).
int64_t attention_unit_flops(const AttentionArgs &a);

// Units [unit_begin, unit_end), in the order batch row, kv head, block of query rows.
void attention_ref(const AttentionArgs &a, int64_t unit_begin, int64_t unit_end);
// path: Scalar runs attention_ref; Portable plain C++; Avx2 and Avx512 the AVX2 + FMA code when
// head_dim is a multiple of 8 (attention_simd_supported), else the portable code.
void attention_forward(const AttentionArgs &a, int64_t unit_begin, int64_t unit_end,
                       KernelPath path);
bool attention_simd_supported(const AttentionArgs &a, KernelPath path);

} // namespace qb::kernels
