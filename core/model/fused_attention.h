// The bridge from Transformer::attention to kernels/attention.h: attention of a few new positions
// (decoding) against the KV cache in one pass per (row, kv head), split over torch's intra-op
// threads, instead of torch's batched matmuls (one small GEMM and a view per row and head).
// Taken only where no gradient is needed and the fused kernels are on (QB_FUSED,
// quant/fused_kernels.h), so turning them off gives the reference path for tests.
// Thread safety: pure functions of their arguments.
#pragma once
#include <ATen/ATen.h>

namespace qb {

// The most new positions a call takes; longer inputs (prefill, perplexity) keep torch's GEMMs,
// which are faster once there are many queries a key.
constexpr int64_t kFusedAttentionMaxQueries = 4;

// Whether fusedAttention applies to queries q: [b, heads, t, head_dim].
bool fusedAttentionApplies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v);

// q: [b, heads, t, head_dim], k, v: [b, kv_heads, s, head_dim] float32 on the CPU (heads a
// multiple of kv_heads; any strides); mask: additive float32 broadcastable to [b, 1, t, s], or
// undefined. Returns softmax(q kᵀ · scale + mask) v as [b, t, heads · head_dim] float32.
at::Tensor fusedAttention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                          const at::Tensor &mask, double scale);

} // namespace qb
