// Element types of tensors stored on disk (safetensors, .npy) and the scalar conversions between
// them and float32. Std-only so the UI and the CLI can use it without torch.
//
// float16 is IEEE 754 binary16; bfloat16 is the top 16 bits of a binary32. Conversions to the
// 16-bit formats round to nearest, ties to even (as torch, numpy and CUDA do); NaN stays NaN.
// All functions are pure and thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qb::io {

// Product of the dimensions (1 for a scalar's empty shape).
inline int64_t shapeNumel(const std::vector<int64_t> &shape)
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

enum class DType { F32, F16, BF16, I8, U8, I32, I64 };

// Bytes per element.
size_t dtypeSize(DType dtype);

// The safetensors spelling: "F32", "F16", "BF16", "I8", "U8", "I32", "I64".
std::string dtypeName(DType dtype);

// Inverse of dtypeName (exact, case-sensitive); nullopt for anything else.
std::optional<DType> parseDType(std::string_view name);

float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
float bf16ToFloat(uint16_t bits);
uint16_t floatToBf16(float value);

// Converts count little-endian elements of dtype at src (any alignment) to float32 at dst.
// Integers convert exactly up to 2^24 in magnitude, then round to nearest float.
void convertToFloat32(DType dtype, const void *src, size_t count, float *dst);

// Product of the dimensions; nullopt when a dimension is negative or the product overflows
// int64. The empty shape (a scalar) has one element.
std::optional<int64_t> checkedNumel(const std::vector<int64_t> &shape);

// "[2, 3]" — for error messages.
std::string shapeString(const std::vector<int64_t> &shape);

} // namespace qb::io
