#include "util/files.h"

#include <vector>

#include "util/error.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace qb {

std::string readTextFile(const fs::path &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path.string() + ": cannot open (" + std::strerror(errno) + ")");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

fs::path tempSibling(const fs::path &target)
{
    static std::atomic<unsigned> counter{0};
    return fs::path(target.string() + ".tmp-" + std::to_string(::getpid()) + "-"
                    + std::to_string(counter++));
}

void writeFileAtomicParts(const fs::path &path, const std::vector<std::string_view> &parts)
{
    if (path.has_parent_path())
        fs::create_directories(path.parent_path());
    const fs::path tmp = tempSibling(path);
    std::FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f)
        throw Error(path.string() + ": cannot write (" + std::strerror(errno) + ")");
    bool ok = true;
    for (const auto &part : parts)
        ok = ok && std::fwrite(part.data(), 1, part.size(), f) == part.size();
    ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    const int err = errno;
    ok = std::fclose(f) == 0 && ok;
    std::error_code ec;
    if (!ok) {
        fs::remove(tmp, ec);
        throw Error(path.string() + ": write failed (" + std::strerror(err) + ")");
    }
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw Error(path.string() + ": cannot rename temp file into place (" + ec.message() + ")");
    }
}

void writeFileAtomic(const fs::path &path, std::string_view bytes)
{
    writeFileAtomicParts(path, {bytes});
}

fs::path userCacheDir()
{
    if (const char *env = std::getenv("QB_CACHE_DIR"); env && *env)
        return env;
    if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        return fs::path(xdg) / "quantbench";
    if (const char *home = std::getenv("HOME"); home && *home)
        return fs::path(home) / ".cache" / "quantbench";
    return fs::temp_directory_path() / "quantbench-cache";
}

} // namespace qb
