#include "model/kv_cache.h"

#include "kernels/fp8_e4m3.h"

#include <algorithm>

namespace qb {

namespace {

constexpr float kInt8Max = 127.0f;
constexpr float kFp8Max = 448.0f; // largest finite e4m3 value
constexpr float kInt4Max = 7.0f;

float maxCode(KvCacheFormat format)
{
    return format == KvCacheFormat::Int8 ? kInt8Max
        : format == KvCacheFormat::Int4  ? kInt4Max
                                         : kFp8Max;
}

} // namespace

std::pair<at::Tensor, at::Tensor> KVCache::quantize(const at::Tensor &x, KvCacheFormat format)
{
    TORCH_CHECK(format != KvCacheFormat::Fp32, "KVCache::quantize: fp32 is not quantized");
    const at::Tensor xf = x.to(at::kFloat).contiguous();
    at::Tensor scales = xf.abs().amax(-1) / maxCode(format);
    // An all-zero vector keeps scale 0 (it decodes to zeros); divide by 1 instead of 0.
    const at::Tensor divisor = at::where(scales > 0, scales, at::ones_like(scales)).unsqueeze(-1);
    at::Tensor scaled = (xf / divisor).contiguous();
    if (format == KvCacheFormat::Int8)
        return {scaled.round().clamp(-kInt8Max, kInt8Max).to(at::kChar), scales};
    if (format == KvCacheFormat::Int4) {
        // Offset codes 1..15 (0 unused), element 2i in the low nibble, 2i + 1 in the high one.
        TORCH_CHECK(xf.size(-1) % 2 == 0, "KVCache: int4 needs an even head_dim");
        const at::Tensor u = (scaled.round().clamp(-kInt4Max, kInt4Max) + 8).to(at::kByte);
        const at::Tensor pairs = u.unflatten(-1, {xf.size(-1) / 2, 2});
        const at::Tensor lo = pairs.select(-1, 0), hi = pairs.select(-1, 1);
        return {at::bitwise_or(lo, at::bitwise_left_shift(hi, 4)).contiguous(), scales};
    }
    at::Tensor codes = at::empty(scaled.sizes(), at::kByte);
    kernels::fp8_e4m3_encode(scaled.data_ptr<float>(), scaled.numel(), codes.data_ptr<uint8_t>());
    return {codes, scales};
}

at::Tensor KVCache::dequantize(const at::Tensor &codes, const at::Tensor &scales,
                               KvCacheFormat format)
{
    TORCH_CHECK(format != KvCacheFormat::Fp32, "KVCache::dequantize: fp32 is not quantized");
    if (format == KvCacheFormat::Int8)
        return codes.to(at::kFloat) * scales.unsqueeze(-1);
    if (format == KvCacheFormat::Int4) {
        const at::Tensor lo = at::bitwise_and(codes, 15), hi = at::bitwise_right_shift(codes, 4);
        const at::Tensor values = at::stack({lo, hi}, -1).flatten(-2).to(at::kFloat) - 8.0f;
        return values * scales.unsqueeze(-1);
    }
    const at::Tensor c = codes.contiguous();
    const at::Tensor s = scales.to(at::kFloat).contiguous();
    at::Tensor out = at::empty(c.sizes(), at::kFloat);
    const int64_t cols = c.size(-1);
    kernels::fp8_e4m3_decode_rows(c.data_ptr<uint8_t>(), s.data_ptr<float>(), s.numel(), cols,
                                  out.data_ptr<float>());
    return out;
}

KVCache::Store KVCache::makeStore(int64_t batch, int64_t capacity) const
{
    Store s;
    const auto dtype = m_format == KvCacheFormat::Fp32   ? at::kFloat
                       : m_format == KvCacheFormat::Int8 ? at::kChar
                                                         : at::kByte;
    s.data = at::zeros({batch, m_kvHeads, capacity, storedColumns()}, dtype);
    if (m_format != KvCacheFormat::Fp32)
        s.scales = at::zeros({batch, m_kvHeads, capacity}, at::kFloat);
    return s;
}

void KVCache::allocate(const ModelConfig &config, int64_t batch, int64_t capacity,
                       KvCacheFormat format)
{
    TORCH_CHECK(batch >= 0 && capacity > 0, "KVCache::allocate: bad batch or capacity");
    TORCH_CHECK(format != KvCacheFormat::Int4 || config.headDim % 2 == 0,
                "KVCache: an int4 cache needs an even head_dim, the model has ", config.headDim);
    m_format = format;
    m_kvHeads = config.numKvHeads;
    m_headDim = config.headDim;
    m_capacity = capacity;
    m_length = 0;
    m_rowLength.assign(batch, 0);
    m_writeIndex = at::Tensor();
    m_layers.clear();
    for (int64_t l = 0; l < config.numLayers; ++l)
        m_layers.push_back({makeStore(batch, capacity), makeStore(batch, capacity)});
}

bool KVCache::uniform() const
{
    return std::all_of(m_rowLength.begin(), m_rowLength.end(),
                       [&](int64_t n) { return n == m_length; });
}

void KVCache::put(Store &store, const at::Tensor &x)
{
    const int64_t t = x.size(2);
    at::Tensor codes = x, scales;
    if (m_format != KvCacheFormat::Fp32)
        std::tie(codes, scales) = quantize(x, m_format);
    if (uniform()) {
        store.data.narrow(2, m_length, t).copy_(codes);
        if (scales.defined())
            store.scales.narrow(2, m_length, t).copy_(scales);
        return;
    }
    TORCH_CHECK(t == 1, "KVCache: rows of different lengths take one position at a time");
    if (!m_writeIndex.defined())
        m_writeIndex = at::tensor(m_rowLength, at::kLong).view({batch(), 1, 1, 1});
    store.data.scatter_(2, m_writeIndex.expand({batch(), m_kvHeads, 1, storedColumns()}), codes);
    if (scales.defined())
        store.scales.scatter_(2, m_writeIndex.view({batch(), 1, 1}).expand({batch(), m_kvHeads, 1}),
                              scales);
}

at::Tensor KVCache::decoded(const Store &store, int64_t columns) const
{
    if (m_format == KvCacheFormat::Fp32)
        return store.data.narrow(2, 0, columns);
    return dequantize(store.data.narrow(2, 0, columns), store.scales.narrow(2, 0, columns),
                      m_format);
}

void KVCache::grow(int64_t capacity)
{
    for (auto &layer : m_layers)
        for (Store *s : {&layer.keys, &layer.values}) {
            Store bigger = makeStore(batch(), capacity);
            bigger.data.narrow(2, 0, m_length).copy_(s->data.narrow(2, 0, m_length));
            if (s->scales.defined())
                bigger.scales.narrow(2, 0, m_length).copy_(s->scales.narrow(2, 0, m_length));
            *s = std::move(bigger);
        }
    m_capacity = capacity;
}

std::pair<at::Tensor, at::Tensor> KVCache::write(int64_t layer, const at::Tensor &k,
                                                 const at::Tensor &v)
{
    writeStored(layer, k, v);
    const Layer &l = m_layers[layer];
    return {decoded(l.keys, m_length + k.size(2)), decoded(l.values, m_length + k.size(2))};
}

KVCache::Stored KVCache::writeStored(int64_t layer, const at::Tensor &k, const at::Tensor &v)
{
    TORCH_CHECK(allocated() && layer >= 0 && layer < static_cast<int64_t>(m_layers.size()),
                "KVCache::write: no such layer");
    TORCH_CHECK(k.dim() == 4 && k.size(0) == batch() && k.size(1) == m_kvHeads
                    && k.size(3) == m_headDim && v.sizes() == k.sizes(),
                "KVCache::write: keys/values must be [batch, kv_heads, t, head_dim]");
    const int64_t t = k.size(2);
    if (m_length + t > m_capacity)
        grow(std::max(m_length + t, 2 * m_capacity));
    Layer &l = m_layers[layer];
    put(l.keys, k);
    put(l.values, v);
    const int64_t columns = m_length + t;
    Stored out{m_format, l.keys.data.narrow(2, 0, columns), l.values.data.narrow(2, 0, columns),
               {}, {}};
    if (l.keys.scales.defined()) {
        out.keyScales = l.keys.scales.narrow(2, 0, columns);
        out.valueScales = l.values.scales.narrow(2, 0, columns);
    }
    return out;
}

void KVCache::advance(int64_t t)
{
    for (auto &n : m_rowLength)
        n += t;
    m_length += t;
    m_writeIndex = at::Tensor();
}

void KVCache::keepRows(const std::vector<int64_t> &rows)
{
    std::vector<int64_t> lengths;
    for (int64_t r : rows)
        lengths.push_back(m_rowLength.at(r));
    const int64_t length = lengths.empty() ? 0 : *std::max_element(lengths.begin(), lengths.end());
    const int64_t n = static_cast<int64_t>(rows.size());
    for (auto &layer : m_layers)
        for (Store *s : {&layer.keys, &layer.values}) {
            Store kept = makeStore(n, m_capacity);
            for (int64_t i = 0; i < n; ++i) {
                kept.data[i].narrow(1, 0, length).copy_(s->data[rows[i]].narrow(1, 0, length));
                if (s->scales.defined())
                    kept.scales[i].narrow(1, 0, length).copy_(s->scales[rows[i]].narrow(1, 0, length));
            }
            *s = std::move(kept);
        }
    m_rowLength = lengths;
    m_length = length;
    m_writeIndex = at::Tensor();
}

void KVCache::appendRows(const KVCache &other)
{
    TORCH_CHECK(allocated() && other.allocated() && other.m_format == m_format
                    && other.m_layers.size() == m_layers.size() && other.m_kvHeads == m_kvHeads
                    && other.m_headDim == m_headDim,
                "KVCache::appendRows: caches of different models or formats");
    const int64_t n = batch(), m = other.batch();
    const int64_t length = std::max(m_length, other.m_length);
    const int64_t capacity = std::max(m_capacity, length);
    for (size_t l = 0; l < m_layers.size(); ++l) {
        Store *mine[] = {&m_layers[l].keys, &m_layers[l].values};
        const Store *theirs[] = {&other.m_layers[l].keys, &other.m_layers[l].values};
        for (int i = 0; i < 2; ++i) {
            Store joined = makeStore(n + m, capacity);
            joined.data.narrow(0, 0, n).narrow(2, 0, m_length)
                .copy_(mine[i]->data.narrow(2, 0, m_length));
            joined.data.narrow(0, n, m).narrow(2, 0, other.m_length)
                .copy_(theirs[i]->data.narrow(2, 0, other.m_length));
            if (joined.scales.defined()) {
                joined.scales.narrow(0, 0, n).narrow(2, 0, m_length)
                    .copy_(mine[i]->scales.narrow(2, 0, m_length));
                joined.scales.narrow(0, n, m).narrow(2, 0, other.m_length)
                    .copy_(theirs[i]->scales.narrow(2, 0, other.m_length));
            }
            *mine[i] = std::move(joined);
        }
    }
    m_rowLength.insert(m_rowLength.end(), other.m_rowLength.begin(), other.m_rowLength.end());
    m_length = length;
    m_capacity = capacity;
    m_writeIndex = at::Tensor();
}

int64_t KVCache::bytesPerPosition() const
{
    const int64_t element = m_format == KvCacheFormat::Fp32 ? 4 : 1;
    const int64_t scale = m_format == KvCacheFormat::Fp32 ? 0 : 4;
    return static_cast<int64_t>(m_layers.size()) * 2 * m_kvHeads
        * (storedColumns() * element + scale);
}

} // namespace qb
