// GGUF v3 (the file format of ggml / llama.cpp): reading and writing. Std-only (no torch, no Qt).
//
// Layout (little-endian): "GGUF", uint32 version, int64 tensor count, int64 KV count; KV pairs
// (string key, uint32 value type, value; an array is uint32 element type, uint64 count, elements;
// a string is uint64 length + bytes); tensor infos (string name, uint32 n_dims, int64 ne[n_dims]
// with ne[0] the innermost/contiguous dimension, uint32 ggml type, uint64 offset into the data
// section); padding to the alignment (general.alignment, uint32, default 32); the data section,
// where each tensor starts at a multiple of the alignment (ggml requires the tensors in info order,
// each padded to the alignment, and so does our writer). docs/gguf.md says what we write.
//
// Tensor types handled: F32, F16, Q8_0, Q4_0 (kernels/gguf_blocks.h); other ggml types are named
// in errors. A torch tensor [out, in] is a GGUF tensor with ne = {in, out}.
#pragma once
#include "io/mapped_file.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace qb::io {

enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
    U64 = 10, I64 = 11, F64 = 12
};
const char *ggufTypeName(GgufType type);

// ggml tensor types we read and write (ggml's numbering).
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };
const char *ggmlTypeName(GgmlType type);
// Elements per block (1 for F32/F16) and bytes per block.
int64_t ggmlBlockSize(GgmlType type);
uint64_t ggmlBlockBytes(GgmlType type);
// Bytes of a tensor of `count` elements (count must be a multiple of the block size).
uint64_t ggmlBytes(GgmlType type, int64_t count);

// One metadata value: a scalar, a string, or an array of one of those (no nested arrays).
struct GgufValue
{
    GgufType type = GgufType::U32;
    uint64_t u = 0;   // U8/U16/U32/U64 and Bool
    int64_t i = 0;    // I8/I16/I32/I64
    double f = 0.0;   // F32/F64
    std::string s;    // String
    GgufType elemType = GgufType::U32; // Array
    std::vector<GgufValue> items;      // Array

    static GgufValue ofU32(uint32_t v);
    static GgufValue ofI32(int32_t v);
    static GgufValue ofU64(uint64_t v);
    static GgufValue ofF32(float v);
    static GgufValue ofBool(bool v);
    static GgufValue ofString(std::string v);
    static GgufValue ofScalar(GgufType type, uint64_t u, int64_t i, double f);
    static GgufValue ofArray(GgufType elemType, std::vector<GgufValue> items);
    static GgufValue ofStrings(const std::vector<std::string> &v);
    static GgufValue ofF32s(const std::vector<float> &v);
    static GgufValue ofI32s(const std::vector<int32_t> &v);

    bool isInteger() const;
    bool isFloat() const { return type == GgufType::F32 || type == GgufType::F64; }
};

struct GgufTensorInfo
{
    std::string name;
    std::vector<int64_t> ne; // ne[0] innermost
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;     // into the data section
    uint64_t nbytes = 0;
    uint64_t infoOffset = 0; // where the info starts in the file (for messages)

    int64_t numel() const;
};

// A .gguf file, memory-mapped read-only and validated at open: every key, type and tensor extent
// is checked, so the infos it hands out describe bytes inside the file.
// Ownership: owns the mapping; move-only. Thread safety: immutable; const methods from any thread.
class GgufFile
{
public:
    // Throws qb::Error starting with the path and naming the byte offset and the key or tensor
    // at fault (truncated file, bad magic, unsupported version, unknown value or tensor type,
    // misaligned or out-of-file tensor data, duplicate names).
    static GgufFile open(const std::filesystem::path &path);

    GgufFile(GgufFile &&) = default;
    GgufFile &operator=(GgufFile &&) = default;

    const std::filesystem::path &path() const { return m_file.path(); }
    uint32_t version() const { return m_version; }
    uint64_t alignment() const { return m_alignment; }
    uint64_t dataOffset() const { return m_dataOffset; }
    const std::vector<std::pair<std::string, GgufValue>> &metadata() const { return m_kv; }
    const std::vector<GgufTensorInfo> &tensors() const { return m_tensors; }

    const GgufValue *find(const std::string &key) const;
    const GgufTensorInfo *findTensor(const std::string &name) const;
    const uint8_t *data(const GgufTensorInfo &info) const;

    // Typed access that throws qb::Error naming the file and key when absent or of another type.
    int64_t requireInt(const std::string &key) const;
    double requireFloat(const std::string &key) const; // F32/F64 (or an integer)
    const std::string &requireString(const std::string &key) const;
    const GgufValue &requireArray(const std::string &key, GgufType elemType) const;
    // The tensor's values as float32 (F32, F16, Q8_0, Q4_0), numel() of them.
    std::vector<float> readFloat32(const GgufTensorInfo &info) const;

private:
    GgufFile() = default;

    MappedFile m_file;
    uint32_t m_version = 0;
    uint64_t m_alignment = 32;
    uint64_t m_dataOffset = 0;
    std::vector<std::pair<std::string, GgufValue>> m_kv;
    std::vector<GgufTensorInfo> m_tensors;
};

// Collects metadata and tensors and writes one GGUF v3 file atomically (temp file + rename).
// Tensor bytes are copied in when added. Used from one thread.
class GgufWriter
{
public:
    explicit GgufWriter(uint32_t alignment = 32);

    // Replaces a key given twice. general.alignment is written from the constructor's value.
    void set(const std::string &key, GgufValue value);
    // ne[0] innermost; bytes.size() must equal ggmlBytes(type, product of ne).
    void addTensor(const std::string &name, std::vector<int64_t> ne, GgmlType type,
                   std::vector<uint8_t> bytes);
    // Throws qb::Error naming the path when it cannot be written.
    void write(const std::filesystem::path &path) const;

private:
    uint32_t m_alignment;
    std::vector<std::pair<std::string, GgufValue>> m_kv;
    struct Tensor
    {
        std::string name;
        std::vector<int64_t> ne;
        GgmlType type;
        std::vector<uint8_t> bytes;
    };
    std::vector<Tensor> m_tensors;
};

} // namespace qb::io
