// Calibration sequences for the nodes that run a model on text to calibrate or measure it
// (quantize for gptq / awq / smoothquant, analyze.layer_error, analyze.sensitivity), so that all
// of them read their optional `calibration` dataset input and their `calibration` parameter
// {source, samples, seq_len[, path]} the same way.
//
// With a dataset connected: its records as text, "Question: Q\nAnswer: A\n\n" per record (A is
// the GSM8K solution with its "#### N" line, or the GPQA correct answer), tokenized with the
// model folder's tokenizer.json, or as raw bytes (ids 0..255) when the folder has none (as
// model.random's has not), then cut into up to `samples` non-overlapping windows of `seq_len`
// tokens spread evenly over the text (analysis/calibration.h windowsOf); a text too short for
// `samples` windows gives fewer, with a log line.
// Without one, calibration.source chooses: "random" (ids drawn uniformly, seeded by the
// experiment seed), "generated" (sampled from the model at temperature 1), "text_file" (the
// file at calibration.path, tokenized and windowed like a dataset's text). Each node's
// parameter spec offers the sources that make sense for it.
// Thread safety: called on the node's thread; uses the model exclusively for "generated".
#pragma once
#include "analysis/calibration.h"
#include "api/registry.h"
#include "model/model_bundle.h"

#include <filesystem>
#include <string>

namespace qb {

class NodeContext;

// The `calibration` parameter {source, samples, seq_len[, path]} with the sources a node offers
// (the first is the default); `path` is there when "text_file" is one of them.
ParamSpec calibrationParamSpec(const std::vector<std::string> &sources, int64_t minSeqLen,
                               const std::string &description);

// The text of a dataset artifact (meta.task "gsm8k" or "gpqa") in the format above. Throws
// qb::Error for another task or an unreadable records file.
std::string datasetText(const Artifact &dataset);

// The node's calibration sequences; `source` receives where they came from, for logs and
// results ("dataset gsm (bytes)", "random tokens", ...). `bundle` is the model whose codec and
// vocabulary the ids are for. Throws qb::Error on a text shorter than one window or a missing
// text file.
TokenSequences calibrationFor(NodeContext &ctx, const ModelBundle &bundle, std::string *source);

} // namespace qb
