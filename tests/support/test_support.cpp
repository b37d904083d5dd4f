#include "support/test_support.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;

namespace qbtest {

fs::path sharedDataDir()
{
    if (const char *env = std::getenv("QB_TEST_DATA_DIR"); env && *env)
        return fs::exists(env) ? fs::path(env) : fs::path();
    fs::path p = QB_TEST_DATA_DIR;
    return fs::exists(p) ? fs::canonical(p) : fs::path();
}

fs::path makeTempDir(const std::string &tag)
{
    static std::atomic<int> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    fs::path dir = fs::temp_directory_path()
        / ("qbtest-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(stamp) + "-"
           + std::to_string(counter++));
    fs::create_directories(dir);
    return dir;
}

std::string readFile(const fs::path &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeFile(const fs::path &path, const std::string &bytes)
{
    if (path.has_parent_path())
        fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out)
        throw std::runtime_error("cannot write " + path.string());
}

fs::path sourceDir() { return QB_SOURCE_DIR; }

fs::path binDir()
{
    if (const char *env = std::getenv("QB_BIN_DIR"); env && *env)
        return env;
    return fs::current_path();
}

std::vector<float> normalValues(std::int64_t n, unsigned seed, float mean, float sd)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(mean, sd);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto &x : v)
        x = dist(rng);
    return v;
}

} // namespace qbtest
