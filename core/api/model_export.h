// Std-only entry to every model export (GGUF for llama.cpp: model/gguf_export.h; Hugging Face
// GPTQ / AWQ folders: api/hf_export.h) for the GUI: one request, one summary.
// Thread safety: a free function that blocks until the file or folder is written; callers run it
// on a worker thread and must not change the model folder meanwhile.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace qb {

struct ModelExportRequest
{
    std::string format;             // "gguf", "gptq" or "awq"
    std::string ggufType = "q8_0";  // gguf: f32, f16, q8_0, q4_0
    std::filesystem::path model;    // any folder or .gguf file loadModelBundle reads
    std::filesystem::path out;      // gguf: the file; gptq/awq: the folder (must not exist)
    std::function<void(int64_t done, int64_t total, const std::string &what)> progress; // gguf
};

// The formats and GGUF types export knows, for menus.
std::vector<std::string> modelExportFormats();
std::vector<std::string> ggufExportTypes();

// Writes the export; returns a short human summary (what was written, its size, the largest
// relative error of a tensor or the float16 scale change). Throws qb::Error naming what the
// format cannot hold or what could not be read or written.
std::string exportModel(const ModelExportRequest &request);

} // namespace qb
