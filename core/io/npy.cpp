#include "io/npy.h"

#include "io/mapped_file.h"
#include "util/error.h"
#include "util/files.h"

#include <cctype>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fs = std::filesystem;

namespace qb::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// np.save aligns the data to 64 bytes and leaves room for the first dimension to grow to 21 digits
// in place; doing the same makes our files byte-identical to numpy's.
constexpr size_t kArrayAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;

struct DescrEntry
{
    const char *descr;
    DType dtype;
};
constexpr DescrEntry kDescrs[] = {{"<f4", DType::F32}, {"<f2", DType::F16}, {"|i1", DType::I8},
                                  {"|u1", DType::U8},  {"<i4", DType::I32}, {"<i8", DType::I64}};
constexpr const char *kSupported = "<f4, <f2, |i1, |u1, <i4, <i8";

std::string descrOf(DType dtype)
{
    for (const auto &e : kDescrs) {
        if (e.dtype == dtype)
            return e.descr;
    }
    return "?"; // BF16 has no numpy dtype
}

// One value of the header dict: the header is a Python literal, and only strings, booleans and
// tuples of integers occur in the keys numpy writes.
struct HeaderValue
{
    enum class Kind { String, Bool, Tuple } kind = Kind::String;
    std::string text;
    bool flag = false;
    std::vector<int64_t> ints;
};

// A recursive-descent parser for that subset of Python literal syntax.
class HeaderParser
{
public:
    HeaderParser(std::string_view text, std::string where) : m_s(text), m_where(std::move(where))
    {}

    std::map<std::string, HeaderValue> parseDict()
    {
        std::map<std::string, HeaderValue> dict;
        skipSpace();
        expect('{');
        skipSpace();
        while (peek() != '}') {
            const std::string key = parseString();
            skipSpace();
            expect(':');
            skipSpace();
            if (dict.count(key))
                fail("duplicate key '" + key + "'");
            dict[key] = parseValue(key);
            skipSpace();
            if (peek() == ',') {
                ++m_pos;
                skipSpace();
            } else if (peek() != '}') {
                fail("expected ',' or '}'");
            }
        }
        ++m_pos;
        skipSpace();
        if (m_pos != m_s.size())
            fail("unexpected text after the header dict");
        return dict;
    }

private:
    [[noreturn]] void fail(const std::string &what) const
    {
        throw Error(m_where + ": malformed .npy header at character " + std::to_string(m_pos)
                    + ": " + what + " in \"" + std::string(m_s) + "\"");
    }

    char peek() const { return m_pos < m_s.size() ? m_s[m_pos] : '\0'; }

    void skipSpace()
    {
        while (m_pos < m_s.size() && std::isspace(static_cast<unsigned char>(m_s[m_pos])))
            ++m_pos;
    }

    void expect(char c)
    {
        if (peek() != c)
            fail(std::string("expected '") + c + "'");
        ++m_pos;
    }

    std::string parseString()
    {
        const char quote = peek();
        if (quote != '\'' && quote != '"')
            fail("expected a quoted string");
        const size_t end = m_s.find(quote, m_pos + 1);
        if (end == std::string_view::npos)
            fail("unterminated string");
        std::string out(m_s.substr(m_pos + 1, end - m_pos - 1));
        m_pos = end + 1;
        return out;
    }

    int64_t parseInt()
    {
        const size_t start = m_pos;
        int64_t v = 0;
        while (std::isdigit(static_cast<unsigned char>(peek()))) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, peek() - '0', &v))
                fail("dimension too large");
            ++m_pos;
        }
        if (m_pos == start)
            fail("expected a non-negative integer");
        if (peek() == 'L') // Python 2 wrote long integers as 3L
            ++m_pos;
        return v;
    }

    HeaderValue parseValue(const std::string &key)
    {
        HeaderValue v;
        const char c = peek();
        if (c == '\'' || c == '"') {
            v.kind = HeaderValue::Kind::String;
            v.text = parseString();
        } else if (m_s.substr(m_pos, 4) == "True" || m_s.substr(m_pos, 5) == "False") {
            v.kind = HeaderValue::Kind::Bool;
            v.flag = c == 'T';
            m_pos += v.flag ? 4 : 5;
        } else if (c == '(') {
            v.kind = HeaderValue::Kind::Tuple;
            ++m_pos;
            skipSpace();
            while (peek() != ')') {
                v.ints.push_back(parseInt());
                skipSpace();
                if (peek() == ',') {
                    ++m_pos;
                    skipSpace();
                } else if (peek() != ')') {
                    fail("expected ',' or ')' in a tuple");
                }
            }
            ++m_pos;
        } else if (c == '[' && key == "descr") {
            throw Error(m_where + ": structured dtypes (a list descr) are not supported");
        } else {
            fail("unsupported value for key '" + key + "'");
        }
        return v;
    }

    std::string_view m_s;
    std::string m_where;
    size_t m_pos = 0;
};

DType parseDescr(const std::string &where, const std::string &descr)
{
    for (const auto &e : kDescrs) {
        if (descr == e.descr)
            return e.dtype;
        // Byte order means nothing for one-byte types; accept any marker there.
        if (descr.size() == 3 && descr[2] == '1' && descr.substr(1) == std::string(e.descr + 1)
            && (descr[0] == '<' || descr[0] == '>' || descr[0] == '='))
            return e.dtype;
    }
    if (descr.size() == 3 && descr[0] == '>') {
        for (const auto &e : kDescrs) {
            if (descr.substr(1) == std::string(e.descr + 1))
                throw Error(where + ": big-endian data (descr '" + descr
                            + "') is not supported; save it little-endian");
        }
    }
    throw Error(where + ": unsupported dtype descr '" + descr + "' (supported: " + kSupported
                + ")");
}

std::string pythonTuple(const std::vector<int64_t> &shape)
{
    std::string out = "(";
    for (size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + (shape.size() == 1 ? ",)" : ")");
}

uint64_t byteCount(const std::string &where, DType dtype, const std::vector<int64_t> &shape)
{
    const auto numel = checkedNumel(shape);
    uint64_t bytes = 0;
    if (!numel || __builtin_mul_overflow(uint64_t(*numel), dtypeSize(dtype), &bytes))
        throw Error(where + ": invalid shape " + pythonTuple(shape));
    return bytes;
}

} // namespace

int64_t NpyArray::numel() const { return shapeNumel(shape); }

NpyArray readNpy(const fs::path &path)
{
    const std::string where = path.string();
    const MappedFile file = MappedFile::open(path);
    const uint8_t *p = file.data();
    const size_t size = file.size();
    if (size < kMagicLen + 2 || std::memcmp(p, kMagic, kMagicLen) != 0)
        throw Error(where + ": not a .npy file (it does not start with the magic \"\\x93NUMPY\")");
    const int major = p[6];
    const int minor = p[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        throw Error(where + ": unsupported .npy format version " + std::to_string(major) + "."
                    + std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
    // Version 1.0 stores the header length in 2 bytes; 2.0 and 3.0 (utf-8 header) in 4.
    const size_t lenBytes = major == 1 ? 2 : 4;
    const size_t prefix = 8 + lenBytes;
    if (size < prefix)
        throw Error(where + ": file ends inside the .npy header length");
    uint64_t headerLen = 0;
    for (size_t i = 0; i < lenBytes; ++i)
        headerLen |= uint64_t(p[8 + i]) << (8 * i);
    if (headerLen > size - prefix)
        throw Error(where + ": .npy header length " + std::to_string(headerLen)
                    + " is larger than the rest of the " + std::to_string(size) + "-byte file");

    const std::string_view headerText(reinterpret_cast<const char *>(p + prefix), headerLen);
    auto dict = HeaderParser(headerText, where).parseDict();
    for (const char *key : {"descr", "fortran_order", "shape"}) {
        if (!dict.count(key))
            throw Error(where + ": .npy header has no '" + key + "' key");
    }
    if (dict.size() != 3)
        throw Error(where + ": .npy header has keys other than 'descr', 'fortran_order', 'shape'");
    if (dict["descr"].kind != HeaderValue::Kind::String)
        throw Error(where + ": .npy header 'descr' is not a string");
    if (dict["fortran_order"].kind != HeaderValue::Kind::Bool)
        throw Error(where + ": .npy header 'fortran_order' is not True or False");
    if (dict["shape"].kind != HeaderValue::Kind::Tuple)
        throw Error(where + ": .npy header 'shape' is not a tuple");
    if (dict["fortran_order"].flag)
        throw Error(where + ": fortran_order True (column-major) arrays are not supported; save "
                            "a C-contiguous array");

    NpyArray array;
    array.dtype = parseDescr(where, dict["descr"].text);
    array.shape = dict["shape"].ints;
    const uint64_t needed = byteCount(where, array.dtype, array.shape);
    const uint64_t available = size - prefix - headerLen;
    if (available < needed)
        throw Error(where + ": truncated: shape " + pythonTuple(array.shape) + " of '"
                    + dict["descr"].text + "' needs " + std::to_string(needed)
                    + " bytes of data, the file has " + std::to_string(available));
    if (available > needed)
        throw Error(where + ": " + std::to_string(available - needed)
                    + " unexpected bytes after the array data");
    const uint8_t *data = p + prefix + headerLen;
    array.bytes.assign(data, data + needed);
    return array;
}

void writeNpy(const fs::path &path, DType dtype, const std::vector<int64_t> &shape,
              const void *data)
{
    const std::string where = path.string();
    if (dtype == DType::BF16)
        throw Error(where + ": bfloat16 has no .npy dtype; convert to float32 first");
    const uint64_t nbytes = byteCount(where, dtype, shape);

    std::string header = "{'descr': '" + descrOf(dtype)
        + "', 'fortran_order': False, 'shape': " + pythonTuple(shape) + ", }";
    if (!shape.empty())
        header.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
    // Total prefix + header + '\n' is a multiple of 64; numpy adds a full 64 when already aligned.
    auto padded = [&](size_t lenBytes) {
        const size_t used = kMagicLen + 2 + lenBytes + header.size() + 1;
        return header.size() + 1 + kArrayAlign - used % kArrayAlign;
    };
    const size_t lenBytes = padded(2) <= 0xffff ? 2 : 4;
    const size_t headerLen = padded(lenBytes);
    std::string prefix(kMagic, kMagicLen);
    prefix += lenBytes == 2 ? '\x01' : '\x02';
    prefix += '\x00';
    for (size_t i = 0; i < lenBytes; ++i)
        prefix += static_cast<char>((headerLen >> (8 * i)) & 0xff);
    prefix += header;
    prefix.append(headerLen - header.size() - 1, ' ');
    prefix += '\n';
    writeFileAtomicParts(path, {prefix, {static_cast<const char *>(data), nbytes}});
}

void writeNpy(const fs::path &path, const NpyArray &array)
{
    const uint64_t needed = byteCount(path.string(), array.dtype, array.shape);
    if (array.bytes.size() != needed)
        throw Error(path.string() + ": array has " + std::to_string(array.bytes.size())
                    + " bytes, but shape " + pythonTuple(array.shape) + " of "
                    + dtypeName(array.dtype) + " needs " + std::to_string(needed));
    writeNpy(path, array.dtype, array.shape, array.bytes.data());
}

std::vector<float> npyToFloat32(const NpyArray &array)
{
    std::vector<float> out(array.bytes.size() / dtypeSize(array.dtype));
    convertToFloat32(array.dtype, array.bytes.data(), out.size(), out.data());
    return out;
}

} // namespace qb::io
