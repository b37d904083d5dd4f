// Binary file access for the tensor formats: a read-only memory map (MappedFile). Writes go through
// util/files.h's writeFileAtomicParts, which streams several byte ranges into a temp file and
// renames it into place, so multi-GB checkpoints are written without first joining them in memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace qb::io {

// A whole file mapped read-only. Owns the mapping and unmaps it on destruction; move-only.
// The bytes never change while mapped (MAP_PRIVATE of a file we only read); const methods may be
// called from any thread. A zero-length file maps to data() == nullptr, size() == 0.
class MappedFile
{
public:
    // Throws qb::Error naming the path when it cannot be opened, is a directory, or mmap fails.
    static MappedFile open(const std::filesystem::path &path);

    MappedFile() = default;
    MappedFile(MappedFile &&other) noexcept;
    MappedFile &operator=(MappedFile &&other) noexcept;
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;
    ~MappedFile();

    const uint8_t *data() const { return m_data; }
    size_t size() const { return m_size; }
    const std::filesystem::path &path() const { return m_path; }

private:
    void release();

    std::filesystem::path m_path;
    const uint8_t *m_data = nullptr;
    size_t m_size = 0;
};

} // namespace qb::io
