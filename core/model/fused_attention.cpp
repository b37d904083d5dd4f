#include "model/fused_attention.h"

#include "kernels/attention.h"
#include "quant/fused_kernels.h"
#include "util/parallel.h"

namespace qb {

bool fusedAttentionApplies(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v)
{
    if (!fusedKernelsEnabled())
        return false;
    for (const at::Tensor *t : {&q, &k, &v})
        if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || t->requires_grad())
            return false;
    return true;
}

bool fusedAttentionReads(KvCacheFormat format)
{
    return format == KvCacheFormat::Fp32 || format == KvCacheFormat::Int8
        || format == KvCacheFormat::Int4 || format == KvCacheFormat::Fp8;
}

namespace {

// Runs the kernel with q, mask and output set here; `a` comes with its keys and values set.
at::Tensor run(kernels::AttentionArgs a, const at::Tensor &q, int64_t kvHeads, int64_t s,
               const at::Tensor &mask, double scale)
{
    const int64_t b = q.size(0), heads = q.size(1), t = q.size(2), hd = q.size(3);
    TORCH_CHECK(kvHeads > 0 && heads % kvHeads == 0, "fusedAttention: ", heads,
                " query heads over ", kvHeads, " kv heads");
    const at::Tensor qc = q.stride(3) == 1 ? q : q.contiguous();
    at::Tensor out = at::empty({b, t, heads, hd}, at::kFloat);
    a.batch = b;
    a.kv_heads = kvHeads;
    a.groups = heads / kvHeads;
    a.queries = t;
    a.keys = s;
    a.head_dim = hd;
    a.scale = static_cast<float>(scale);
    a.q = qc.data_ptr<float>();
    a.q_batch = qc.stride(0), a.q_head = qc.stride(1), a.q_query = qc.stride(2);
    at::Tensor m;
    if (mask.defined()) {
        TORCH_CHECK(mask.dim() == 4 && mask.size(1) == 1, "fusedAttention: mask ", mask.sizes());
        m = mask.to(at::kFloat).expand({b, 1, t, s});
        if (m.stride(3) != 1)
            m = m.contiguous();
        a.mask = m.data_ptr<float>();
        a.mask_batch = m.stride(0), a.mask_query = m.stride(2);
    }
    a.out = out.data_ptr<float>();
    a.out_batch = out.stride(0), a.out_head = out.stride(2), a.out_query = out.stride(1);
    const kernels::KernelPath path = activeKernelPath();
    parallelFor(0, kernels::attention_units(a),
                     splitGrain(kernels::attention_unit_flops(a) / 2),
                     [&](int64_t begin, int64_t end) { kernels::attention_forward(a, begin, end, path); });
    return out.view({b, t, heads * hd});
}

void checkShapes(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v)
{
    TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes() && k.size(0) == q.size(0)
                    && k.size(3) == q.size(3),
                "fusedAttention: q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes());
}

} // namespace

at::Tensor fusedAttention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                          const at::Tensor &mask, double scale)
{
    checkShapes(q, k, v);
    // The kernel reads head_dim contiguously.
    const at::Tensor kc = k.stride(3) == 1 ? k : k.contiguous();
    const at::Tensor vc = v.stride(3) == 1 ? v : v.contiguous();
    kernels::AttentionArgs a;
    a.k = kc.data_ptr<float>();
    a.k_batch = kc.stride(0), a.k_head = kc.stride(1), a.k_key = kc.stride(2);
    a.v = vc.data_ptr<float>();
    a.v_batch = vc.stride(0), a.v_head = vc.stride(1), a.v_key = vc.stride(2);
    return run(a, q, k.size(1), k.size(2), mask, scale);
}

at::Tensor fusedAttention(const at::Tensor &q, const KVCache::Stored &kv, const at::Tensor &mask,
                          double scale)
{
    if (kv.format == KvCacheFormat::Fp32)
        return fusedAttention(q, kv.keys, kv.values, mask, scale);
    TORCH_CHECK(fusedAttentionReads(kv.format), "fusedAttention: the ",
                kvCacheFormatName(kv.format), " cache is read decoded (KVCache::write)");
    const bool int4 = kv.format == KvCacheFormat::Int4, fp8 = kv.format == KvCacheFormat::Fp8;
    // INT4 stores two elements a byte: head_dim / 2 bytes a position.
    const int64_t headDim = kv.keys.size(3) * (int4 ? 2 : 1);
    TORCH_CHECK(q.dim() == 4 && kv.keys.dim() == 4 && kv.values.sizes() == kv.keys.sizes()
                    && kv.keys.size(0) == q.size(0) && headDim == q.size(3)
                    && kv.keys.scalar_type() == (int4 || fp8 ? at::kByte : at::kChar)
                    && kv.values.scalar_type() == kv.keys.scalar_type()
                    && kv.keys.stride(3) == 1 && kv.values.stride(3) == 1
                    && kv.keyScales.stride(2) == 1 && kv.valueScales.stride(2) == 1,
                "fusedAttention: q ", q.sizes(), " over a ", kvCacheFormatName(kv.format),
                " cache of ", kv.keys.sizes());
    kernels::AttentionArgs a;
    if (int4) {
        a.k4 = kv.keys.data_ptr<uint8_t>();
        a.v4 = kv.values.data_ptr<uint8_t>();
    } else if (fp8) {
        a.k_e4m3 = kv.keys.data_ptr<uint8_t>();
        a.v_e4m3 = kv.values.data_ptr<uint8_t>();
    } else {
        a.k8 = kv.keys.data_ptr<int8_t>();
        a.v8 = kv.values.data_ptr<int8_t>();
    }
    a.k_batch = kv.keys.stride(0), a.k_head = kv.keys.stride(1), a.k_key = kv.keys.stride(2);
    a.v_batch = kv.values.stride(0), a.v_head = kv.values.stride(1),
    a.v_key = kv.values.stride(2);
    a.k_scale = kv.keyScales.data_ptr<float>();
    a.k_scale_batch = kv.keyScales.stride(0), a.k_scale_head = kv.keyScales.stride(1);
    a.v_scale = kv.valueScales.data_ptr<float>();
    a.v_scale_batch = kv.valueScales.stride(0), a.v_scale_head = kv.valueScales.stride(1);
    return run(a, q, kv.keys.size(1), kv.keys.size(2), mask, scale);
}

} // namespace qb
