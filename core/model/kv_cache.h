// KVCache: the keys and values of past positions of every layer, preallocated for a number of
// positions and written in place (no per-step concatenation). Rows may hold different numbers of
// positions (continuous batching refills finished rows with new prompts): row r occupies columns
// 0 .. rowLength(r) - 1, and a forward writes its new positions at each row's own length.
// Optionally quantized (DecodingConfig::kvCache): INT8 with one absmax scale per position and head
// (code = round(x / s), s = absmax / 127, so |x - code * s| <= s / 2), or FP8 e4m3 with the scale
// absmax / 448 (relative error <= 2^-4, absolute <= s * 2^-10 near zero), or INT4 (codes -7..7,
// s = absmax / 7, |x - code * s| <= s / 2, two codes per byte: head_dim must be even); attention
// reads the decoded float32 values.
// Not thread-safe; owned by the caller of Transformer::forward (generation).
#pragma once
#include "api/decoding.h"
#include "model/model_config.h"

#include <ATen/ATen.h>

#include <utility>
#include <vector>

namespace qb {

class KVCache
{
public:
    KVCache() = default;

    // Room for `capacity` positions of `batch` rows; drops what was held.
    void allocate(const ModelConfig &config, int64_t batch, int64_t capacity,
                  KvCacheFormat format = KvCacheFormat::Fp32);
    bool allocated() const { return !m_layers.empty(); }
    int64_t batch() const { return static_cast<int64_t>(m_rowLength.size()); }
    int64_t capacity() const { return m_capacity; }
    KvCacheFormat format() const { return m_format; }

    // Columns in use: the longest row.
    int64_t length() const { return m_length; }
    int64_t rowLength(int64_t row) const { return m_rowLength.at(row); }
    // Every row holds length() positions.
    bool uniform() const;

    // k, v: [batch, kv_heads, t, head_dim] float32 of layer `layer`, written at each row's length
    // (t must be 1 when rows differ). Grows the capacity when needed. Returns the keys and values
    // of columns 0 .. length() + t - 1: [batch, kv_heads, length() + t, head_dim] float32 (decoded
    // when quantized). Columns beyond a row's own positions hold stale values: mask them.
    std::pair<at::Tensor, at::Tensor> write(int64_t layer, const at::Tensor &k, const at::Tensor &v);
    // The same write, returning columns 0 .. length() + t - 1 as stored, not decoded: keys and
    // values [batch, kv_heads, columns, stored columns] (float32, int8, uint8 e4m3 or packed
    // int4) and, for the quantized formats, their scales [batch, kv_heads, columns] float32
    // (undefined for Fp32). For attention kernels that read the codes (model/fused_attention.h).
    struct Stored
    {
        KvCacheFormat format = KvCacheFormat::Fp32;
        at::Tensor keys, values, keyScales, valueScales;
    };
    Stored writeStored(int64_t layer, const at::Tensor &k, const at::Tensor &v);
    // Call once every layer has written t positions.
    void advance(int64_t t);

    // Keeps only `rows` (indices into this batch, in that order).
    void keepRows(const std::vector<int64_t> &rows);
    // Appends the rows of `other` (same model and format) after this batch's rows.
    void appendRows(const KVCache &other);

    // Bytes one position of one row occupies over all layers (keys, values and their scales).
    int64_t bytesPerPosition() const;

    // The stored keys (values) of a layer decoded to float32
    // [batch, kv_heads, length(), head_dim]: what
    // attention reads (tests compare it with what was written).
    at::Tensor keys(int64_t layer) const { return decoded(m_layers.at(layer).keys, length()); }
    at::Tensor values(int64_t layer) const { return decoded(m_layers.at(layer).values, length()); }

    // Quantizes x [..., head_dim] float32 per vector: returns codes (int8 for Int8, uint8 e4m3
    // for Fp8) and scales [...] float32. Fp32 is not a quantized format (throws).
    static std::pair<at::Tensor, at::Tensor> quantize(const at::Tensor &x, KvCacheFormat format);
    // codes [..., head_dim], scales [...] -> float32 [..., head_dim].
    static at::Tensor dequantize(const at::Tensor &codes, const at::Tensor &scales,
                                 KvCacheFormat format);

private:
    struct Store
    {
        at::Tensor data;   // [batch, kv_heads, capacity, head_dim] float32, int8 or uint8
        at::Tensor scales; // [batch, kv_heads, capacity] float32 (quantized formats only)
    };
    struct Layer
    {
        Store keys;
        Store values;
    };

    Store makeStore(int64_t batch, int64_t capacity) const;
    void put(Store &store, const at::Tensor &x);
    at::Tensor decoded(const Store &store, int64_t columns) const;
    void grow(int64_t capacity);

    // Stored elements per position and head: head_dim, or head_dim / 2 for packed int4.
    int64_t storedColumns() const
    {
        return m_format == KvCacheFormat::Int4 ? m_headDim / 2 : m_headDim;
    }

    KvCacheFormat m_format = KvCacheFormat::Fp32;
    int64_t m_kvHeads = 0;
    int64_t m_headDim = 0;
    int64_t m_capacity = 0;
    int64_t m_length = 0;
    std::vector<int64_t> m_rowLength;
    at::Tensor m_writeIndex; // [batch, 1, 1, 1] int64: each row's length, for scattered writes
    std::vector<Layer> m_layers;
};

} // namespace qb
