// The bridge from Transformer::attention to kernels/attention.h: attention of new positions
// (prefill or decoding) against the KV cache in one pass per (row, kv head, block of queries),
// split over util/parallel.h's threads, instead of torch's batched matmuls (one small GEMM and a
// view per row and head, and the [queries, keys] scores materialised).
// Taken only where no gradient is needed and the fused kernels are on (QB_FUSED,
// quant/fused_kernels.h), so turning them off gives the reference path for tests.
// Thread safety: pure functions of their arguments.
#pragma once
#include "model/kv_cache.h"

#include <ATen/ATen.h>

namespace qb {

// Whether fusedAttention applies to the new positions' q, k, v: no gradient needed (training
// keeps torch's differentiable path), float32 on the CPU, and the fused kernels on.
bool fusedAttentionApplies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v);
// Whether fusedAttention reads a cache of this format as stored (float32, INT8, INT4, FP8: all
// KVCache has; others would be decoded by KVCache::write first).
bool fusedAttentionReads(KvCacheFormat format);

// q: [b, heads, t, head_dim], k, v: [b, kv_heads, s, head_dim] float32 on the CPU (heads a
// multiple of kv_heads; any strides); mask: additive float32 broadcastable to [b, 1, t, s], or
// undefined. Returns softmax(q kᵀ · scale + mask) v as [b, t, heads · head_dim] float32.
at::Tensor fusedAttention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                          const at::Tensor &mask, double scale);
// The same over a cache's stored columns (KVCache::writeStored) of a format it reads: INT8,
// packed INT4 or FP8 e4m3 codes and their scales straight, with no float32 copy of the cache.
at::Tensor fusedAttention(const at::Tensor &q, const KVCache::Stored &kv, const at::Tensor &mask,
                          double scale);

} // namespace qb
