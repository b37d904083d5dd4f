#include "kernels/gguf_blocks.h"

#include <cmath>
#include <cstring>

namespace qb::kernels {

namespace {

std::uint32_t floatBits(float f)
{
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float bitsFloat(std::uint32_t u)
{
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

void storeScale(std::uint8_t *block, float d)
{
    const std::uint16_t h = fp32_to_fp16(d);
    block[0] = static_cast<std::uint8_t>(h & 0xff);
    block[1] = static_cast<std::uint8_t>(h >> 8);
}

float loadScale(const std::uint8_t *block)
{
    return fp16_to_fp32(static_cast<std::uint16_t>(block[0] | (block[1] << 8)));
}

} // namespace

std::uint16_t fp32_to_fp16(float value)
{
    const std::uint32_t bits = floatBits(value);
    const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
    const int exp = static_cast<int>((bits >> 23) & 0xffu);
    std::uint32_t mant = bits & 0x7fffffu;
    if (exp == 255) // inf or NaN (NaN keeps a quiet payload bit)
        return sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u);
    const int e = exp - 127 + 15;
    if (e >= 31)
        return sign | 0x7c00u;
    if (e <= 0) {
        if (e < -10)
            return sign;
        mant |= 0x800000u;
        const int shift = 14 - e;
        std::uint32_t h = mant >> shift;
        const std::uint32_t rest = mant & ((1u << shift) - 1);
        const std::uint32_t halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (h & 1u)))
            ++h; // may carry into the smallest normal, which is the right answer
        return static_cast<std::uint16_t>(sign | h);
    }
    std::uint32_t h = (static_cast<std::uint32_t>(e) << 10) | (mant >> 13);
    const std::uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        ++h; // a carry into the exponent (up to 0x7c00 = inf) is the correct rounding
    return static_cast<std::uint16_t>(sign | h);
}

float fp16_to_fp32(std::uint16_t h)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        const float v = std::ldexp(static_cast<float>(mant), -24);
        return sign ? -v : v;
    }
    if (exp == 31)
        return bitsFloat(sign | 0x7f800000u | (mant << 13));
    return bitsFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

void quantize_q8_0_ref(const float *x, std::int64_t n, std::uint8_t *out)
{
    for (std::int64_t b = 0; b < n / kGgmlBlock; ++b) {
        const float *v = x + b * kGgmlBlock;
        std::uint8_t *blk = out + b * kQ8_0BlockBytes;
        float amax = 0.0f;
        for (int j = 0; j < kGgmlBlock; ++j)
            amax = std::fmax(amax, std::fabs(v[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        storeScale(blk, d);
        for (int j = 0; j < kGgmlBlock; ++j) {
            const float scaled = v[j] * id;
            const auto q = static_cast<std::int8_t>(std::round(scaled)); // ties away from zero
            std::memcpy(blk + 2 + j, &q, 1);
        }
    }
}

void quantize_q4_0_ref(const float *x, std::int64_t n, std::uint8_t *out)
{
    constexpr int half = kGgmlBlock / 2;
    for (std::int64_t b = 0; b < n / kGgmlBlock; ++b) {
        const float *v = x + b * kGgmlBlock;
        std::uint8_t *blk = out + b * kQ4_0BlockBytes;
        float amax = 0.0f, m = 0.0f;
        for (int j = 0; j < kGgmlBlock; ++j) {
            if (amax < std::fabs(v[j])) {
                amax = std::fabs(v[j]);
                m = v[j];
            }
        }
        const float d = m / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        storeScale(blk, d);
        auto code = [&](float value) {
            const float scaled = value * id;
            const float shifted = scaled + 8.5f;
            const int q = static_cast<std::int8_t>(shifted); // truncation: shifted >= 0.5 here
            return static_cast<std::uint8_t>(q < 15 ? q : 15);
        };
        for (int j = 0; j < half; ++j)
            blk[2 + j] = static_cast<std::uint8_t>(code(v[j]) | (code(v[half + j]) << 4));
    }
}

void unpack_q8_0_block(const std::uint8_t *block, float *scale, std::uint8_t *codes)
{
    *scale = loadScale(block);
    for (int j = 0; j < kGgmlBlock; ++j) {
        std::int8_t q;
        std::memcpy(&q, block + 2 + j, 1);
        codes[j] = static_cast<std::uint8_t>(q + 128);
    }
}

void unpack_q4_0_block(const std::uint8_t *block, float *scale, std::uint8_t *codes)
{
    *scale = loadScale(block);
    for (int j = 0; j < kGgmlBlock / 2; ++j) {
        codes[j] = block[2 + j] & 0x0f;
        codes[j + kGgmlBlock / 2] = block[2 + j] >> 4;
    }
}

void dequantize_q8_0_ref(const std::uint8_t *blocks, std::int64_t n, float *out)
{
    std::uint8_t codes[kGgmlBlock];
    for (std::int64_t b = 0; b < n / kGgmlBlock; ++b) {
        float d;
        unpack_q8_0_block(blocks + b * kQ8_0BlockBytes, &d, codes);
        for (int j = 0; j < kGgmlBlock; ++j)
            out[b * kGgmlBlock + j] = static_cast<float>(static_cast<int>(codes[j]) - 128) * d;
    }
}

void dequantize_q4_0_ref(const std::uint8_t *blocks, std::int64_t n, float *out)
{
    std::uint8_t codes[kGgmlBlock];
    for (std::int64_t b = 0; b < n / kGgmlBlock; ++b) {
        float d;
        unpack_q4_0_block(blocks + b * kQ4_0BlockBytes, &d, codes);
        for (int j = 0; j < kGgmlBlock; ++j)
            out[b * kGgmlBlock + j] = static_cast<float>(static_cast<int>(codes[j]) - 8) * d;
    }
}

void fp32_to_fp16_row(const float *x, std::int64_t n, std::uint16_t *out)
{
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = fp32_to_fp16(x[i]);
}

void fp16_to_fp32_row(const std::uint16_t *x, std::int64_t n, float *out)
{
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = fp16_to_fp32(x[i]);
}

} // namespace qb::kernels
