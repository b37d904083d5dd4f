// Helpers shared by the test suites: where the real data lives, scratch folders, and small file
// utilities. Std-only so that every test, Qt or torch side, can use it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qbtest {

// ../shared/data beside the checkout (or QB_TEST_DATA_DIR); empty path when absent.
std::filesystem::path sharedDataDir();

// A fresh, empty folder under the system temp dir, unique per call.
std::filesystem::path makeTempDir(const std::string &tag);

std::string readFile(const std::filesystem::path &path);
void writeFile(const std::filesystem::path &path, const std::string &bytes);

// The project source root (for layering checks and example projects).
std::filesystem::path sourceDir();

// Folder holding the built programs (quantbench-cli), from QB_BIN_DIR.
std::filesystem::path binDir();

// n float32 draws of N(mean, sd²) from std::mt19937(seed): the same values on every run.
std::vector<float> normalValues(std::int64_t n, unsigned seed, float mean = 0.0f, float sd = 1.0f);

} // namespace qbtest
