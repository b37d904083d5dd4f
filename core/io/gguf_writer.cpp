// GgufWriter: the write side of io/gguf.h (layout described there).
#include "io/gguf.h"

#include "util/error.h"
#include "util/files.h"

#include <algorithm>
#include <string_view>

namespace qb::io {

namespace {

constexpr uint64_t kMaxDims = 4;
constexpr size_t kMaxTensorName = 63; // ggml's GGML_MAX_NAME is 64 with the terminator

void appendRaw(std::string &out, const void *p, size_t n)
{
    out.append(static_cast<const char *>(p), n);
}
template <typename T> void appendPod(std::string &out, T v) { appendRaw(out, &v, sizeof(T)); }
void appendString(std::string &out, const std::string &s)
{
    appendPod<uint64_t>(out, s.size());
    out += s;
}

void appendScalar(std::string &out, const GgufValue &v, GgufType t)
{
    switch (t) {
    case GgufType::U8: appendPod<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case GgufType::I8: appendPod<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case GgufType::U16: appendPod<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case GgufType::I16: appendPod<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case GgufType::U32: appendPod<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case GgufType::I32: appendPod<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case GgufType::U64: appendPod<uint64_t>(out, v.u); break;
    case GgufType::I64: appendPod<int64_t>(out, v.i); break;
    case GgufType::F32: appendPod<float>(out, static_cast<float>(v.f)); break;
    case GgufType::F64: appendPod<double>(out, v.f); break;
    case GgufType::Bool: appendPod<uint8_t>(out, v.u ? 1 : 0); break;
    case GgufType::String: appendString(out, v.s); break;
    case GgufType::Array: break;
    }
}

uint64_t padTo(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

} // namespace

GgufWriter::GgufWriter(uint32_t alignment) : m_alignment(alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        throw Error("GGUF alignment " + std::to_string(alignment) + " is not a power of two");
}

void GgufWriter::set(const std::string &key, GgufValue value)
{
    for (auto &[k, v] : m_kv)
        if (k == key) {
            v = std::move(value);
            return;
        }
    m_kv.emplace_back(key, std::move(value));
}

void GgufWriter::addTensor(const std::string &name, std::vector<int64_t> ne, GgmlType type,
                           std::vector<uint8_t> bytes)
{
    int64_t n = 1;
    for (int64_t d : ne)
        n *= d;
    if (name.size() > kMaxTensorName || ne.empty() || ne.size() > kMaxDims
        || ne[0] % ggmlBlockSize(type) != 0 || bytes.size() != ggmlBytes(type, n))
        throw Error("GGUF tensor '" + name + "': name, shape or byte count does not fit type "
                    + ggmlTypeName(type));
    for (const auto &t : m_tensors)
        if (t.name == name)
            throw Error("GGUF tensor '" + name + "' added twice");
    m_tensors.push_back({name, std::move(ne), type, std::move(bytes)});
}

void GgufWriter::write(const std::filesystem::path &path) const
{
    std::string head;
    appendRaw(head, "GGUF", 4);
    appendPod<uint32_t>(head, 3);
    appendPod<int64_t>(head, static_cast<int64_t>(m_tensors.size()));
    std::vector<std::pair<std::string, GgufValue>> kv = m_kv;
    bool hasAlignment = false;
    for (auto &[k, v] : kv)
        if (k == "general.alignment") {
            v = GgufValue::ofU32(m_alignment);
            hasAlignment = true;
        }
    if (!hasAlignment && m_alignment != 32)
        kv.emplace_back("general.alignment", GgufValue::ofU32(m_alignment));
    appendPod<int64_t>(head, static_cast<int64_t>(kv.size()));
    for (const auto &[k, v] : kv) {
        appendString(head, k);
        appendPod<uint32_t>(head, static_cast<uint32_t>(v.type));
        if (v.type == GgufType::Array) {
            appendPod<uint32_t>(head, static_cast<uint32_t>(v.elemType));
            appendPod<uint64_t>(head, v.items.size());
            for (const auto &item : v.items)
                appendScalar(head, item, v.elemType);
        } else {
            appendScalar(head, v, v.type);
        }
    }
    uint64_t offset = 0;
    for (const auto &t : m_tensors) {
        appendString(head, t.name);
        appendPod<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne)
            appendPod<int64_t>(head, d);
        appendPod<uint32_t>(head, static_cast<uint32_t>(t.type));
        appendPod<uint64_t>(head, offset);
        offset = padTo(offset + t.bytes.size(), m_alignment);
    }
    head.resize(padTo(head.size(), m_alignment), '\0');
    static const std::string zeros(256, '\0');
    std::vector<std::string_view> parts{head};
    for (const auto &t : m_tensors) {
        parts.emplace_back(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
        const uint64_t pad = padTo(t.bytes.size(), m_alignment) - t.bytes.size();
        for (uint64_t left = pad; left > 0;) {
            const uint64_t n = std::min<uint64_t>(left, zeros.size());
            parts.emplace_back(zeros.data(), n);
            left -= n;
        }
    }
    writeFileAtomicParts(path, parts);
}

} // namespace qb::io
