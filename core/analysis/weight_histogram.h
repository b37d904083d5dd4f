// The weight histogram of one linear layer, reference and quantized, with the quantization levels
// the layer's method can produce, for the layer-error chart.
// Levels (levelsSource says which was used):
//   nf4 / fp4:      the 16 codebook values times the absmax of the block that holds the largest
//                   |w_q| (double-quantized absmax reconstructed), i.e. that block's grid;
//   int-k (also GPTQ without act-order permutation): (code - zero) * scale for every code of the
//                   group that holds the largest |w_q|;
//   int8 / llm_int8: k * scale, k = -127..127, of the output row that holds the largest |w_q|;
//   other ops (fp8, smoothquant, awq, gptq with act-order, whose effective weight is not on one
//   grid): the distinct values of the dequantized row that holds the largest |w_q|;
//   dense: none.
// Thread safety: pure functions of the ops (read only).
#pragma once
#include "model/linear.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace qb {

struct WeightHistogram
{
    std::string layer;
    std::string kind;               // the quantized op's kind()
    std::vector<double> edges;      // bins + 1 ascending edges covering both weights
    std::vector<int64_t> reference; // counts of the reference weight per bin
    std::vector<int64_t> quantized; // counts of the quantized (dequantized) weight per bin
    std::vector<double> levels;     // ascending
    std::string levelsSource;

    nlohmann::json toJson() const;
};

// The levels of `op` as described in the file comment; *source receives the description.
std::vector<double> quantizationLevels(const LinearOp &op, std::string *source);

WeightHistogram weightHistogram(const std::string &layer, const LinearOp &reference,
                                const LinearOp &quantized, int bins);

} // namespace qb
