#include "quant/hf_quant_pack.h"

#include "util/error.h"

#include <cstring>

namespace qb::hfq {

namespace {

const int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

int64_t effectiveGroup(int64_t groupSize, int64_t in)
{
    return (groupSize <= 0 || groupSize >= in) ? in : groupSize;
}

} // namespace

at::Tensor packGptqRows(const at::Tensor &values, int bits)
{
    TORCH_CHECK(values.dim() == 2 && values.scalar_type() == at::kInt,
                "packGptqRows: values must be [K, N] int32");
    const int64_t k = values.size(0), n = values.size(1);
    TORCH_CHECK(k * bits % 32 == 0, "packGptqRows: K * bits must be a multiple of 32");
    const auto v = values.contiguous();
    const int32_t *src = v.data_ptr<int32_t>();
    auto packed = at::zeros({k * bits / 32, n}, at::kInt);
    uint32_t *dst = reinterpret_cast<uint32_t *>(packed.data_ptr<int32_t>());
    const uint32_t mask = (1u << bits) - 1;
    for (int64_t r = 0; r < k; ++r) {
        const int64_t bit = r * bits, word = bit / 32, shift = bit % 32;
        for (int64_t c = 0; c < n; ++c) {
            const uint32_t x = static_cast<uint32_t>(src[r * n + c]) & mask;
            dst[word * n + c] |= x << shift;
            if (shift + bits > 32) // 3-bit values 10 and 21 of each 32 straddle two words
                dst[(word + 1) * n + c] |= x >> (32 - shift);
        }
    }
    return packed;
}

at::Tensor unpackGptqRows(const at::Tensor &packed, int bits, int64_t rows)
{
    TORCH_CHECK(packed.dim() == 2 && packed.scalar_type() == at::kInt
                    && packed.size(0) * 32 == rows * bits,
                "unpackGptqRows: packed must be [rows * bits / 32, N] int32");
    const int64_t n = packed.size(1);
    const auto p = packed.contiguous();
    const uint32_t *src = reinterpret_cast<const uint32_t *>(p.data_ptr<int32_t>());
    auto values = at::empty({rows, n}, at::kInt);
    int32_t *dst = values.data_ptr<int32_t>();
    const uint32_t mask = (1u << bits) - 1;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t bit = r * bits, word = bit / 32, shift = bit % 32;
        for (int64_t c = 0; c < n; ++c) {
            uint32_t x = src[word * n + c] >> shift;
            if (shift + bits > 32)
                x |= src[(word + 1) * n + c] << (32 - shift);
            dst[r * n + c] = static_cast<int32_t>(x & mask);
        }
    }
    return values;
}

at::Tensor packAwqCols(const at::Tensor &values)
{
    TORCH_CHECK(values.dim() == 2 && values.scalar_type() == at::kInt && values.size(1) % 8 == 0,
                "packAwqCols: values must be [R, N] int32 with N a multiple of 8");
    const int64_t r = values.size(0), n = values.size(1);
    const auto v = values.contiguous();
    const int32_t *src = v.data_ptr<int32_t>();
    auto packed = at::zeros({r, n / 8}, at::kInt);
    uint32_t *dst = reinterpret_cast<uint32_t *>(packed.data_ptr<int32_t>());
    for (int64_t i = 0; i < r; ++i)
        for (int64_t c = 0; c < n / 8; ++c) {
            uint32_t word = 0;
            for (int j = 0; j < 8; ++j) {
                const uint32_t x = static_cast<uint32_t>(src[i * n + 8 * c + kAwqOrder[j]]);
                word |= (x & 0xFu) << (4 * j);
            }
            dst[i * (n / 8) + c] = word;
        }
    return packed;
}

at::Tensor unpackAwqCols(const at::Tensor &packed)
{
    TORCH_CHECK(packed.dim() == 2 && packed.scalar_type() == at::kInt,
                "unpackAwqCols: packed must be [R, N / 8] int32");
    const int64_t r = packed.size(0), words = packed.size(1);
    const auto p = packed.contiguous();
    const uint32_t *src = reinterpret_cast<const uint32_t *>(p.data_ptr<int32_t>());
    auto values = at::empty({r, words * 8}, at::kInt);
    int32_t *dst = values.data_ptr<int32_t>();
    for (int64_t i = 0; i < r; ++i)
        for (int64_t c = 0; c < words; ++c)
            for (int j = 0; j < 8; ++j)
                dst[i * words * 8 + 8 * c + kAwqOrder[j]]
                    = static_cast<int32_t>((src[i * words + c] >> (4 * j)) & 0xFu);
    return values;
}

HfLinear fromIntGroup(const IntGroupLinear &op, const std::string &where)
{
    if (op.actBits() > 0)
        throw Error(where + ": " + op.kind()
                    + " quantizes its inputs; the GPTQ/AWQ layouts hold weight-only layers");
    if (op.realZeros().defined())
        throw Error(where + ": " + op.kind()
                    + " has real-valued zero points (a QA-LoRA merge); the GPTQ/AWQ layouts "
                      "store integer zero points only");
    const auto &cfg = op.intConfig();
    const int64_t out = op.outFeatures(), in = op.inFeatures();
    const int64_t gs = kernels::int_group_size(cfg, in);
    const auto t = op.tensors();
    const auto packed = t.at("qweight").contiguous();
    auto stored = at::empty({out, in}, at::kByte);
    for (int64_t r = 0; r < out; ++r)
        kernels::unpack_codes(packed.data_ptr<uint8_t>() + r * packed.size(1), in, cfg.bits,
                              stored.data_ptr<uint8_t>() + r * in);
    HfLinear l;
    l.bits = cfg.bits;
    l.groupSize = cfg.group_size > 0 ? cfg.group_size : -1;
    l.symmetric = cfg.symmetric;
    l.scales = t.at("scales").to(at::kFloat).clone();
    l.zeros = cfg.symmetric ? at::full(l.scales.sizes(), 1 << (cfg.bits - 1), at::kInt)
                            : t.at("qzeros").to(at::kInt);
    const auto storedGroup = at::arange(in, at::kLong).div(gs, "floor").to(at::kInt);
    if (op.permutation().defined()) {
        // Stored column j holds original column perm[j] and belongs to group j / gs.
        const auto &perm = op.permutation();
        l.codes = at::empty({out, in}, at::kInt);
        l.codes.index_copy_(1, perm, stored.to(at::kInt));
        l.gIdx = at::empty({in}, at::kInt);
        l.gIdx.index_copy_(0, perm, storedGroup);
    } else {
        l.codes = stored.to(at::kInt);
        l.gIdx = storedGroup;
    }
    if (op.bias().defined())
        l.bias = op.bias().to(at::kFloat).clone();
    if (op.inputScale().defined())
        l.inputScale = op.inputScale().to(at::kFloat).clone();
    return l;
}

std::shared_ptr<IntGroupLinear> toIntGroup(const HfLinear &l, const std::string &method,
                                           const std::string &where)
{
    const int64_t in = l.codes.size(1);
    const int64_t gs = effectiveGroup(l.groupSize, in);
    // A stable sort keeps the columns of a group in their original order, so a g_idx of plain
    // consecutive groups gives the identity and no permutation is stored.
    const auto perm = std::get<1>(l.gIdx.to(at::kLong).sort(/*stable=*/true, 0, false));
    const auto sortedGroups = l.gIdx.to(at::kLong).index_select(0, perm);
    const auto expected = at::arange(in, at::kLong).div(gs, "floor");
    if (!at::equal(sortedGroups, expected))
        throw Error(where + ": g_idx does not split the " + std::to_string(in)
                    + " input columns into groups of " + std::to_string(gs)
                    + " (each group must hold exactly group_size columns)");
    const bool identity = at::equal(perm, at::arange(in, at::kLong));
    const int maxq = (1 << l.bits) - 1;
    const bool sym = l.zeros.eq(1 << (l.bits - 1)).all().item<bool>();
    const bool realZeros = l.zeros.gt(maxq).any().item<bool>() || l.zeros.lt(0).any().item<bool>();
    kernels::IntGroupConfig cfg;
    cfg.bits = l.bits;
    cfg.group_size = l.groupSize > 0 ? static_cast<int>(l.groupSize) : 0;
    cfg.symmetric = sym;
    const auto codes = (identity ? l.codes : l.codes.index_select(1, perm)).to(at::kByte);
    auto op = IntGroupLinear::fromCodes(codes, l.scales.to(at::kFloat),
                                        sym ? at::Tensor() : l.zeros.clamp(0, 255).to(at::kByte),
                                        cfg, l.bias);
    if (realZeros)
        op->setRealZeros(l.zeros.to(at::kFloat).contiguous());
    op->setMethod(method);
    if (!identity)
        op->setPermutation(perm.contiguous());
    if (l.inputScale.defined())
        op->setInputScale(l.inputScale);
    return op;
}

at::Tensor dequantize(const HfLinear &l)
{
    const auto g = l.gIdx.to(at::kLong);
    auto w = (l.codes - l.zeros.index_select(1, g)).to(at::kFloat) * l.scales.index_select(1, g);
    if (l.inputScale.defined())
        w = w / l.inputScale.unsqueeze(0);
    return w;
}

} // namespace qb::hfq
