#include "io/safetensors.h"

#include "util/error.h"
#include "util/files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_set>

namespace fs = std::filesystem;
using nlohmann::json;

namespace qb::io {

namespace {

// Real headers are a few MB at most; the reference implementation refuses more than 100 MB, and so
// do we, rather than let a corrupt length make us parse gigabytes as JSON.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

std::string brief(const json &j)
{
    std::string s = j.dump();
    return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// nlohmann's message without its "[json.exception.parse_error.101] " tag.
std::string jsonReason(const json::exception &e)
{
    const std::string what = e.what();
    const size_t tagEnd = what.find("] ");
    return tagEnd == std::string::npos ? what : what.substr(tagEnd + 2);
}

std::optional<uint64_t> nonNegativeInt(const json &j)
{
    if (j.is_number_unsigned())
        return j.get<uint64_t>();
    if (j.is_number_integer() && j.get<int64_t>() >= 0)
        return static_cast<uint64_t>(j.get<int64_t>());
    return std::nullopt;
}

std::string offsetsString(const TensorInfo &t)
{
    return "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")";
}

TensorInfo parseTensorEntry(const std::string &where, const std::string &name, const json &entry,
                            uint64_t bufferSize)
{
    const std::string at = where + ": tensor '" + name + "': ";
    if (!entry.is_object())
        throw Error(at + "header entry is not an object: " + brief(entry));
    TensorInfo t;
    t.name = name;

    const auto dtypeIt = entry.find("dtype");
    if (dtypeIt == entry.end() || !dtypeIt->is_string())
        throw Error(at + "missing or non-string \"dtype\"");
    const auto dtype = parseDType(dtypeIt->get<std::string>());
    if (!dtype)
        throw Error(at + "unsupported dtype '" + dtypeIt->get<std::string>()
                    + "' (supported: F32, F16, BF16, I8, U8, I32, I64)");
    t.dtype = *dtype;

    const auto shapeIt = entry.find("shape");
    bool shapeOk = shapeIt != entry.end() && shapeIt->is_array();
    if (shapeOk) {
        for (const auto &d : *shapeIt) {
            const auto v = nonNegativeInt(d);
            if (!v || *v > uint64_t(std::numeric_limits<int64_t>::max())) {
                shapeOk = false;
                break;
            }
            t.shape.push_back(static_cast<int64_t>(*v));
        }
    }
    if (!shapeOk)
        throw Error(at + "\"shape\" must be a list of non-negative integers, got "
                    + (shapeIt == entry.end() ? std::string("nothing") : brief(*shapeIt)));
    const auto numel = checkedNumel(t.shape);
    uint64_t needed = 0;
    if (!numel || __builtin_mul_overflow(uint64_t(*numel), dtypeSize(t.dtype), &needed))
        throw Error(at + "shape " + shapeString(t.shape) + " has too many elements");

    const auto offIt = entry.find("data_offsets");
    std::optional<uint64_t> begin, end;
    if (offIt != entry.end() && offIt->is_array() && offIt->size() == 2) {
        begin = nonNegativeInt((*offIt)[0]);
        end = nonNegativeInt((*offIt)[1]);
    }
    if (!begin || !end)
        throw Error(at + "\"data_offsets\" must be two non-negative integers [begin, end], got "
                    + (offIt == entry.end() ? std::string("nothing") : brief(*offIt)));
    t.begin = *begin;
    t.end = *end;
    if (t.begin > t.end)
        throw Error(at + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end)
                    + "] have begin > end");
    if (t.end > bufferSize)
        throw Error(at + "data offsets " + offsetsString(t) + " exceed the "
                    + std::to_string(bufferSize) + "-byte data buffer");
    if (t.nbytes() != needed)
        throw Error(at + "data offsets " + offsetsString(t) + " hold " + std::to_string(t.nbytes())
                    + " bytes, but shape " + shapeString(t.shape) + " of " + dtypeName(t.dtype)
                    + " needs " + std::to_string(needed));
    return t;
}

} // namespace

int64_t TensorInfo::numel() const { return shapeNumel(shape); }

SafetensorsFile SafetensorsFile::open(const fs::path &path)
{
    SafetensorsFile f;
    f.m_file = MappedFile::open(path);
    const std::string where = path.string();
    const uint8_t *bytes = f.m_file.data();
    const uint64_t size = f.m_file.size();
    if (size < 8)
        throw Error(where + ": file is " + std::to_string(size)
                    + " bytes, shorter than the 8-byte header length of a safetensors file");
    uint64_t headerLen = 0;
    std::memcpy(&headerLen, bytes, 8);
    if (headerLen > size - 8)
        throw Error(where + ": header length " + std::to_string(headerLen) + " is larger than the "
                    + std::to_string(size) + "-byte file (truncated, or not a safetensors file)");
    if (headerLen > kMaxHeaderBytes)
        throw Error(where + ": header length " + std::to_string(headerLen)
                    + " exceeds the 100 MB limit");

    json header;
    try {
        header = json::parse(bytes + 8, bytes + 8 + headerLen);
    } catch (const json::parse_error &e) {
        throw Error(where + ": header is not valid JSON (at byte " + std::to_string(e.byte)
                    + " of the header): " + jsonReason(e));
    }
    if (!header.is_object())
        throw Error(where + ": header is not a JSON object");

    f.m_dataStart = 8 + headerLen;
    const uint64_t bufferSize = size - f.m_dataStart;
    for (const auto &[key, value] : header.items()) {
        if (key == "__metadata__") {
            if (!value.is_object())
                throw Error(where + ": \"__metadata__\" is not an object of strings");
            for (const auto &[mk, mv] : value.items()) {
                if (!mv.is_string())
                    throw Error(where + ": \"__metadata__\" value for key '" + mk
                                + "' is not a string: " + brief(mv));
                f.m_metadata[mk] = mv.get<std::string>();
            }
            continue;
        }
        f.m_tensors.push_back(parseTensorEntry(where, key, value, bufferSize));
    }

    std::sort(f.m_tensors.begin(), f.m_tensors.end(), [](const TensorInfo &a, const TensorInfo &b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    // Sorted by begin, a tensor overlaps an earlier one exactly when it starts before the furthest
    // end seen so far. Empty tensors own no bytes and overlap nothing.
    const TensorInfo *furthest = nullptr;
    for (const auto &t : f.m_tensors) {
        if (t.nbytes() == 0)
            continue;
        if (furthest && t.begin < furthest->end)
            throw Error(where + ": tensors '" + furthest->name + "' " + offsetsString(*furthest)
                        + " and '" + t.name + "' " + offsetsString(t) + " overlap");
        if (!furthest || t.end > furthest->end)
            furthest = &t;
    }
    for (size_t i = 0; i < f.m_tensors.size(); ++i)
        f.m_index.emplace(f.m_tensors[i].name, i);
    return f;
}

const TensorInfo *SafetensorsFile::find(const std::string &name) const
{
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

const uint8_t *SafetensorsFile::data(const TensorInfo &info) const
{
    assert(&info >= m_tensors.data() && &info < m_tensors.data() + m_tensors.size()
           && "TensorInfo from another file");
    return m_file.data() + m_dataStart + info.begin;
}

std::vector<float> SafetensorsFile::readFloat32(const TensorInfo &info) const
{
    std::vector<float> out(static_cast<size_t>(info.numel()));
    convertToFloat32(info.dtype, data(info), out.size(), out.data());
    return out;
}

void writeSafetensors(const fs::path &path, const std::vector<TensorWrite> &tensors,
                      const std::map<std::string, std::string> &metadata)
{
    const std::string where = path.string();
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::unordered_set<std::string> seen;
    uint64_t offset = 0;
    for (const auto &t : tensors) {
        const std::string at = where + ": tensor '" + t.name + "': ";
        if (t.name.empty())
            throw Error(where + ": a tensor has an empty name");
        if (t.name == "__metadata__")
            throw Error(at + "the name is reserved for the metadata entry");
        if (!seen.insert(t.name).second)
            throw Error(at + "duplicate tensor name");
        const auto numel = checkedNumel(t.shape);
        if (!numel)
            throw Error(at + "invalid shape " + shapeString(t.shape));
        const uint64_t needed = uint64_t(*numel) * dtypeSize(t.dtype);
        if (t.nbytes != needed)
            throw Error(at + "got " + std::to_string(t.nbytes) + " bytes, but shape "
                        + shapeString(t.shape) + " of " + dtypeName(t.dtype) + " needs "
                        + std::to_string(needed));
        assert((t.data || t.nbytes == 0) && "tensor data is null");
        header[t.name] = {{"dtype", dtypeName(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + t.nbytes}}};
        offset += t.nbytes;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception &e) {
        throw Error(where + ": cannot encode the header (tensor names must be UTF-8): "
                    + jsonReason(e));
    }
    // Padding keeps the data buffer 8-aligned in the file, so mapped readers can use it in place.
    text.append((8 - text.size() % 8) % 8, ' ');
    const uint64_t headerLen = text.size();
    char lenBytes[8];
    std::memcpy(lenBytes, &headerLen, 8);

    std::vector<std::string_view> parts{{lenBytes, 8}, text};
    for (const auto &t : tensors) {
        if (t.nbytes)
            parts.emplace_back(static_cast<const char *>(t.data), t.nbytes);
    }
    writeFileAtomicParts(path, parts);
}

Checkpoint Checkpoint::open(const fs::path &path)
{
    Checkpoint c;
    c.m_path = path;
    const std::string where = path.string();

    auto addFile = [&c](const fs::path &file) -> const SafetensorsFile & {
        c.m_files.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(file)));
        return *c.m_files.back();
    };

    fs::path indexPath;
    fs::path singlePath;
    if (fs::is_directory(path)) {
        if (fs::exists(path / "model.safetensors.index.json"))
            indexPath = path / "model.safetensors.index.json";
        else if (fs::exists(path / "model.safetensors"))
            singlePath = path / "model.safetensors";
        else
            throw Error(where + ": no model.safetensors or model.safetensors.index.json in the "
                                "folder");
    } else if (fs::exists(path)) {
        singlePath = path;
    } else {
        throw Error(where + ": checkpoint does not exist");
    }

    if (!singlePath.empty()) {
        const SafetensorsFile &file = addFile(singlePath);
        for (const auto &t : file.tensors()) {
            c.m_names.push_back(t.name);
            c.m_entries.emplace(t.name, Entry{&t, &file});
        }
        return c;
    }

    const std::string indexWhere = indexPath.string();
    json index;
    try {
        index = json::parse(readTextFile(indexPath));
    } catch (const json::parse_error &e) {
        throw Error(indexWhere + ": not valid JSON (at byte " + std::to_string(e.byte)
                    + "): " + jsonReason(e));
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw Error(indexWhere + ": missing \"weight_map\" object");
    const json &weightMap = index["weight_map"];
    if (weightMap.empty())
        throw Error(indexWhere + ": \"weight_map\" lists no tensors");

    // Shard file name -> the tensors the index places there; std::map gives file-name order.
    std::map<std::string, std::set<std::string>> shards;
    for (const auto &[name, shard] : weightMap.items()) {
        if (!shard.is_string() || shard.get<std::string>().empty())
            throw Error(indexWhere + ": weight_map entry for tensor '" + name
                        + "' is not a file name: " + brief(shard));
        if (fs::path(shard.get<std::string>()).is_absolute())
            throw Error(indexWhere + ": weight_map entry for tensor '" + name + "' names '"
                        + shard.get<std::string>() + "', which must be relative to the folder");
        shards[shard.get<std::string>()].insert(name);
    }
    for (const auto &[shardName, names] : shards) {
        const fs::path shardPath = path / shardName;
        if (!fs::is_regular_file(shardPath))
            throw Error(indexWhere + ": shard '" + shardName + "' (holding tensor '"
                        + *names.begin() + "') does not exist in " + where);
        const SafetensorsFile &file = addFile(shardPath);
        for (const auto &name : names) {
            if (!file.find(name))
                throw Error(indexWhere + ": tensor '" + name + "' is mapped to shard '"
                            + shardName + "', which does not contain it");
        }
        for (const auto &t : file.tensors()) {
            if (!names.count(t.name))
                continue; // the index decides which copy of a name counts
            c.m_names.push_back(t.name);
            c.m_entries.emplace(t.name, Entry{&t, &file});
        }
    }
    return c;
}

const TensorInfo *Checkpoint::find(const std::string &name) const
{
    const auto it = m_entries.find(name);
    return it == m_entries.end() ? nullptr : it->second.info;
}

const SafetensorsFile *Checkpoint::fileOf(const std::string &name) const
{
    const auto it = m_entries.find(name);
    return it == m_entries.end() ? nullptr : it->second.file;
}

std::vector<float> Checkpoint::readFloat32(const std::string &name) const
{
    const auto it = m_entries.find(name);
    if (it == m_entries.end())
        throw Error(m_path.string() + ": tensor '" + name + "' is not in the checkpoint");
    return it->second.file->readFloat32(*it->second.info);
}

} // namespace qb::io
