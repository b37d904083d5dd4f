// Small file helpers used across the core: whole-file reads with clear errors, and atomic writes
// (write a temp file beside the target, then rename) so readers never see half a file.
// Thread-safe: no shared state.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace qb {

std::string readTextFile(const std::filesystem::path &path);

// Writes bytes to path atomically: path.tmp-<pid>-<n> is written, flushed and renamed over path.
void writeFileAtomic(const std::filesystem::path &path, std::string_view bytes);
// The same for several byte ranges written one after the other (header + tensor data) without
// first joining them in memory.
void writeFileAtomicParts(const std::filesystem::path &path,
                          const std::vector<std::string_view> &parts);

// A unique sibling name for a temp file or folder next to target.
std::filesystem::path tempSibling(const std::filesystem::path &target);

// The per-user cache folder: $QB_CACHE_DIR, else $XDG_CACHE_HOME/quantbench, else ~/.cache/quantbench.
std::filesystem::path userCacheDir();

} // namespace qb
