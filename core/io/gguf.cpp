#include "io/gguf.h"

#include "kernels/gguf_blocks.h"
#include "util/error.h"
#include "util/files.h"

#include <cstring>
#include <limits>
#include <set>
#include <string_view>

namespace qb::io {

namespace {

constexpr uint64_t kMaxDims = 4;
constexpr size_t kMaxTensorName = 63; // ggml's GGML_MAX_NAME is 64 with the terminator

// Names of the ggml types we do not handle, for error messages.
std::string otherGgmlTypeName(uint32_t t)
{
    static const char *const names[] = {"f32",  "f16",  "q4_0", "q4_1", "q4_2", "q4_3", "q5_0",
                                        "q5_1", "q8_0", "q8_1", "q2_K", "q3_K", "q4_K", "q5_K",
                                        "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
                                        "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32",
                                        "i64", "f64", "iq1_m", "bf16"};
    if (t < sizeof(names) / sizeof(names[0]))
        return names[t];
    return "unknown";
}

bool knownValueType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

size_t scalarBytes(GgufType t)
{
    switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
    }
}

// Bounds-checked little-endian reads over the mapping; every failure names the byte offset.
class Cursor
{
public:
    Cursor(const uint8_t *data, size_t size, std::string path)
        : m_data(data), m_size(size), m_path(std::move(path))
    {
    }

    [[noreturn]] void fail(const std::string &what, uint64_t at) const
    {
        throw Error(m_path + ": byte " + std::to_string(at) + ": " + what);
    }
    void need(uint64_t n, const std::string &what) const
    {
        if (n > m_size - m_pos)
            fail("file is truncated: " + what + " needs " + std::to_string(n) + " bytes, only "
                     + std::to_string(m_size - m_pos) + " remain",
                 m_pos);
    }
    template <typename T> T read(const std::string &what)
    {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, m_data + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return v;
    }
    std::string readString(const std::string &what)
    {
        const uint64_t at = m_pos;
        const auto len = read<uint64_t>(what + " (length)");
        if (len > m_size - m_pos)
            fail("file is truncated: " + what + " of " + std::to_string(len) + " bytes, only "
                     + std::to_string(m_size - m_pos) + " remain",
                 at);
        std::string s(reinterpret_cast<const char *>(m_data + m_pos), len);
        m_pos += len;
        return s;
    }
    uint64_t pos() const { return m_pos; }
    uint64_t remaining() const { return m_size - m_pos; }

private:
    const uint8_t *m_data;
    size_t m_size;
    size_t m_pos = 0;
    std::string m_path;
};

GgufValue readScalar(Cursor &c, GgufType t, const std::string &what)
{
    GgufValue v;
    v.type = t;
    switch (t) {
    case GgufType::U8: v.u = c.read<uint8_t>(what); break;
    case GgufType::I8: v.i = c.read<int8_t>(what); break;
    case GgufType::U16: v.u = c.read<uint16_t>(what); break;
    case GgufType::I16: v.i = c.read<int16_t>(what); break;
    case GgufType::U32: v.u = c.read<uint32_t>(what); break;
    case GgufType::I32: v.i = c.read<int32_t>(what); break;
    case GgufType::U64: v.u = c.read<uint64_t>(what); break;
    case GgufType::I64: v.i = c.read<int64_t>(what); break;
    case GgufType::F32: v.f = c.read<float>(what); break;
    case GgufType::F64: v.f = c.read<double>(what); break;
    case GgufType::Bool: {
        const uint64_t at = c.pos();
        const auto b = c.read<uint8_t>(what);
        if (b > 1)
            c.fail(what + ": bool value " + std::to_string(b) + " is neither 0 nor 1", at);
        v.u = b;
        break;
    }
    case GgufType::String: v.s = c.readString(what); break;
    default: break;
    }
    return v;
}

uint64_t padTo(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

} // namespace

const char *ggufTypeName(GgufType type)
{
    static const char *const names[] = {"uint8", "int8",   "uint16", "int16", "uint32",
                                        "int32", "float32", "bool",  "string", "array",
                                        "uint64", "int64", "float64"};
    const auto t = static_cast<uint32_t>(type);
    return t < 13 ? names[t] : "unknown";
}

const char *ggmlTypeName(GgmlType type)
{
    switch (type) {
    case GgmlType::F32: return "f32";
    case GgmlType::F16: return "f16";
    case GgmlType::Q4_0: return "q4_0";
    case GgmlType::Q8_0: return "q8_0";
    }
    return "unknown";
}

int64_t ggmlBlockSize(GgmlType type)
{
    return type == GgmlType::Q4_0 || type == GgmlType::Q8_0 ? kernels::kGgmlBlock : 1;
}

uint64_t ggmlBlockBytes(GgmlType type)
{
    switch (type) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: return 2;
    case GgmlType::Q4_0: return kernels::kQ4_0BlockBytes;
    case GgmlType::Q8_0: return kernels::kQ8_0BlockBytes;
    }
    return 0;
}

uint64_t ggmlBytes(GgmlType type, int64_t count)
{
    return static_cast<uint64_t>(count / ggmlBlockSize(type)) * ggmlBlockBytes(type);
}

GgufValue GgufValue::ofScalar(GgufType type, uint64_t u, int64_t i, double f)
{
    GgufValue v;
    v.type = type;
    v.u = u;
    v.i = i;
    v.f = f;
    return v;
}
GgufValue GgufValue::ofU32(uint32_t v) { return ofScalar(GgufType::U32, v, 0, 0); }
GgufValue GgufValue::ofI32(int32_t v) { return ofScalar(GgufType::I32, 0, v, 0); }
GgufValue GgufValue::ofU64(uint64_t v) { return ofScalar(GgufType::U64, v, 0, 0); }
GgufValue GgufValue::ofF32(float v) { return ofScalar(GgufType::F32, 0, 0, v); }
GgufValue GgufValue::ofBool(bool v) { return ofScalar(GgufType::Bool, v ? 1 : 0, 0, 0); }
GgufValue GgufValue::ofString(std::string s)
{
    GgufValue v;
    v.type = GgufType::String;
    v.s = std::move(s);
    return v;
}
GgufValue GgufValue::ofArray(GgufType elemType, std::vector<GgufValue> items)
{
    GgufValue v;
    v.type = GgufType::Array;
    v.elemType = elemType;
    v.items = std::move(items);
    return v;
}
GgufValue GgufValue::ofStrings(const std::vector<std::string> &strings)
{
    std::vector<GgufValue> items;
    items.reserve(strings.size());
    for (const auto &s : strings)
        items.push_back(ofString(s));
    return ofArray(GgufType::String, std::move(items));
}
GgufValue GgufValue::ofF32s(const std::vector<float> &values)
{
    std::vector<GgufValue> items;
    items.reserve(values.size());
    for (float x : values)
        items.push_back(ofF32(x));
    return ofArray(GgufType::F32, std::move(items));
}
GgufValue GgufValue::ofI32s(const std::vector<int32_t> &values)
{
    std::vector<GgufValue> items;
    items.reserve(values.size());
    for (int32_t x : values)
        items.push_back(ofI32(x));
    return ofArray(GgufType::I32, std::move(items));
}

bool GgufValue::isInteger() const
{
    switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
        return true;
    default:
        return false;
    }
}

int64_t GgufTensorInfo::numel() const
{
    int64_t n = 1;
    for (int64_t d : ne)
        n *= d;
    return n;
}

GgufFile GgufFile::open(const std::filesystem::path &path)
{
    GgufFile g;
    g.m_file = MappedFile::open(path);
    Cursor c(g.m_file.data(), g.m_file.size(), path.string());
    c.need(4, "magic");
    if (std::memcmp(g.m_file.data(), "GGUF", 4) != 0)
        c.fail("bad magic: not a GGUF file (the first 4 bytes are not \"GGUF\")", 0);
    c.read<uint32_t>("magic");
    const uint64_t versionAt = c.pos();
    g.m_version = c.read<uint32_t>("version");
    if (g.m_version != 2 && g.m_version != 3)
        c.fail("unsupported GGUF version " + std::to_string(g.m_version) + " (2 and 3 are read)",
               versionAt);
    const uint64_t countsAt = c.pos();
    const auto nTensors = c.read<int64_t>("tensor count");
    const auto nKv = c.read<int64_t>("metadata count");
    // Each KV takes at least 8 + 4 bytes and each tensor info at least 8 + 4 + 4 + 8.
    if (nTensors < 0 || static_cast<uint64_t>(nTensors) > c.remaining() / 24 || nKv < 0
        || static_cast<uint64_t>(nKv) > c.remaining() / 12)
        c.fail("file is truncated or corrupt: " + std::to_string(nTensors) + " tensors and "
                   + std::to_string(nKv) + " metadata entries cannot fit in the "
                   + std::to_string(c.remaining()) + " bytes that remain",
               countsAt);

    std::set<std::string> keys;
    for (int64_t k = 0; k < nKv; ++k) {
        const uint64_t keyAt = c.pos();
        std::string key = c.readString("key of metadata entry " + std::to_string(k));
        if (!keys.insert(key).second)
            c.fail("duplicate metadata key '" + key + "'", keyAt);
        const std::string what = "value of '" + key + "'";
        const uint64_t typeAt = c.pos();
        const auto rawType = c.read<uint32_t>("type of '" + key + "'");
        if (!knownValueType(rawType))
            c.fail("key '" + key + "': unknown value type " + std::to_string(rawType), typeAt);
        const auto type = static_cast<GgufType>(rawType);
        GgufValue v;
        if (type == GgufType::Array) {
            const uint64_t elemAt = c.pos();
            const auto rawElem = c.read<uint32_t>("array type of '" + key + "'");
            if (!knownValueType(rawElem))
                c.fail("key '" + key + "': unknown array element type " + std::to_string(rawElem),
                       elemAt);
            const auto elem = static_cast<GgufType>(rawElem);
            if (elem == GgufType::Array)
                c.fail("key '" + key + "': nested arrays are not supported", elemAt);
            const uint64_t countAt = c.pos();
            const auto count = c.read<uint64_t>("array length of '" + key + "'");
            const uint64_t minBytes = elem == GgufType::String ? 8 : scalarBytes(elem);
            if (count > c.remaining() / minBytes)
                c.fail("file is truncated: key '" + key + "': array of " + std::to_string(count)
                           + " " + ggufTypeName(elem) + " values cannot fit in the "
                           + std::to_string(c.remaining()) + " bytes that remain",
                       countAt);
            std::vector<GgufValue> items;
            items.reserve(count);
            for (uint64_t i = 0; i < count; ++i)
                items.push_back(readScalar(c, elem, what + "[" + std::to_string(i) + "]"));
            v = GgufValue::ofArray(elem, std::move(items));
        } else {
            v = readScalar(c, type, what);
        }
        if (key == "general.alignment") {
            if (v.type != GgufType::U32)
                c.fail("general.alignment must be uint32, not " + std::string(ggufTypeName(v.type)),
                       typeAt);
            if (v.u == 0 || (v.u & (v.u - 1)) != 0)
                c.fail("general.alignment " + std::to_string(v.u) + " is not a power of two",
                       typeAt);
            g.m_alignment = v.u;
        }
        g.m_kv.emplace_back(std::move(key), std::move(v));
    }

    std::set<std::string> names;
    for (int64_t t = 0; t < nTensors; ++t) {
        GgufTensorInfo info;
        info.infoOffset = c.pos();
        info.name = c.readString("name of tensor " + std::to_string(t));
        const std::string tn = "tensor '" + info.name + "'";
        if (info.name.size() > kMaxTensorName)
            c.fail(tn + ": name longer than 63 bytes", info.infoOffset);
        if (!names.insert(info.name).second)
            c.fail("duplicate " + tn, info.infoOffset);
        const uint64_t dimsAt = c.pos();
        const auto nDims = c.read<uint32_t>(tn + " dimension count");
        if (nDims == 0 || nDims > kMaxDims)
            c.fail(tn + ": " + std::to_string(nDims) + " dimensions (1 to 4 are allowed)", dimsAt);
        for (uint32_t d = 0; d < nDims; ++d) {
            const uint64_t at = c.pos();
            const auto ne = c.read<int64_t>(tn + " dimension " + std::to_string(d));
            if (ne < 0 || (ne > 0 && info.numel() > std::numeric_limits<int64_t>::max() / ne))
                c.fail(tn + ": dimension " + std::to_string(d) + " = " + std::to_string(ne)
                           + " is negative or overflows",
                       at);
            info.ne.push_back(ne);
        }
        const uint64_t typeAt = c.pos();
        const auto rawType = c.read<uint32_t>(tn + " type");
        if (rawType != 0 && rawType != 1 && rawType != 2 && rawType != 8)
            c.fail(tn + ": ggml type " + std::to_string(rawType) + " ("
                       + otherGgmlTypeName(rawType)
                       + ") is not supported (f32, f16, q8_0 and q4_0 are)",
                   typeAt);
        info.type = static_cast<GgmlType>(rawType);
        if (info.ne[0] % ggmlBlockSize(info.type) != 0)
            c.fail(tn + ": row length " + std::to_string(info.ne[0]) + " is not a multiple of "
                       + std::to_string(ggmlBlockSize(info.type)) + " as " + ggmlTypeName(info.type)
                       + " needs",
                   dimsAt);
        // Every type takes at least half a byte per element: a bigger tensor cannot be in the
        // file (and its byte count could overflow).
        if (static_cast<uint64_t>(info.numel()) / 2 > g.m_file.size())
            c.fail(tn + ": " + std::to_string(info.numel()) + " elements cannot fit in the "
                       + std::to_string(g.m_file.size()) + "-byte file",
                   dimsAt);
        info.nbytes = ggmlBytes(info.type, info.numel());
        const uint64_t offsetAt = c.pos();
        info.offset = c.read<uint64_t>(tn + " data offset");
        if (info.offset % g.m_alignment != 0)
            c.fail(tn + ": data offset " + std::to_string(info.offset)
                       + " is not a multiple of the alignment " + std::to_string(g.m_alignment),
                   offsetAt);
        g.m_tensors.push_back(std::move(info));
    }
    g.m_dataOffset = padTo(c.pos(), g.m_alignment);
    const uint64_t fileSize = g.m_file.size();
    if (!g.m_tensors.empty() && g.m_dataOffset > fileSize)
        c.fail("file is truncated: the data section would start at byte "
                   + std::to_string(g.m_dataOffset) + ", past the end",
               c.pos());
    for (const auto &info : g.m_tensors) {
        const uint64_t dataBytes = fileSize - g.m_dataOffset;
        if (info.offset > dataBytes || info.nbytes > dataBytes - info.offset)
            c.fail("file is truncated: tensor '" + info.name + "' (" + ggmlTypeName(info.type)
                       + ", " + std::to_string(info.nbytes) + " bytes at data offset "
                       + std::to_string(info.offset) + ") runs past the end of the file ("
                       + std::to_string(fileSize) + " bytes)",
                   g.m_dataOffset + info.offset);
    }
    return g;
}

const GgufValue *GgufFile::find(const std::string &key) const
{
    for (const auto &[k, v] : m_kv)
        if (k == key)
            return &v;
    return nullptr;
}

const GgufTensorInfo *GgufFile::findTensor(const std::string &name) const
{
    for (const auto &t : m_tensors)
        if (t.name == name)
            return &t;
    return nullptr;
}

const uint8_t *GgufFile::data(const GgufTensorInfo &info) const
{
    return m_file.data() + m_dataOffset + info.offset;
}

int64_t GgufFile::requireInt(const std::string &key) const
{
    const GgufValue *v = find(key);
    if (!v)
        throw Error(path().string() + ": missing metadata key '" + key + "'");
    if (!v->isInteger())
        throw Error(path().string() + ": metadata key '" + key + "' is "
                    + ggufTypeName(v->type) + ", expected an integer");
    switch (v->type) {
    case GgufType::I8: case GgufType::I16: case GgufType::I32: case GgufType::I64: return v->i;
    default: return static_cast<int64_t>(v->u);
    }
}

double GgufFile::requireFloat(const std::string &key) const
{
    const GgufValue *v = find(key);
    if (v && v->isFloat())
        return v->f;
    return static_cast<double>(requireInt(key));
}

const std::string &GgufFile::requireString(const std::string &key) const
{
    const GgufValue *v = find(key);
    if (!v)
        throw Error(path().string() + ": missing metadata key '" + key + "'");
    if (v->type != GgufType::String)
        throw Error(path().string() + ": metadata key '" + key + "' is " + ggufTypeName(v->type)
                    + ", expected a string");
    return v->s;
}

const GgufValue &GgufFile::requireArray(const std::string &key, GgufType elemType) const
{
    const GgufValue *v = find(key);
    if (!v)
        throw Error(path().string() + ": missing metadata key '" + key + "'");
    if (v->type != GgufType::Array || v->elemType != elemType)
        throw Error(path().string() + ": metadata key '" + key + "' is not an array of "
                    + ggufTypeName(elemType));
    return *v;
}

std::vector<float> GgufFile::readFloat32(const GgufTensorInfo &info) const
{
    const int64_t n = info.numel();
    std::vector<float> out(static_cast<size_t>(n));
    const uint8_t *p = data(info);
    switch (info.type) {
    case GgmlType::F32: std::memcpy(out.data(), p, n * 4); break;
    case GgmlType::F16: {
        std::vector<uint16_t> h(static_cast<size_t>(n));
        std::memcpy(h.data(), p, n * 2);
        kernels::fp16_to_fp32_row(h.data(), n, out.data());
        break;
    }
    case GgmlType::Q8_0: kernels::dequantize_q8_0_ref(p, n, out.data()); break;
    case GgmlType::Q4_0: kernels::dequantize_q4_0_ref(p, n, out.data()); break;
    }
    return out;
}
} // namespace qb::io
