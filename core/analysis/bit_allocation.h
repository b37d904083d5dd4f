// Greedy mixed-precision bit allocation from a per-layer sensitivity table. Std-only, so tests and
// the GUI can call it without torch.
//
// The model starts with every layer at the low-bit setting. Layers are ranked by their
// sensitivity (the KL divergence of the model with only that layer at low bits, largest first;
// ties keep model order). Walking down the ranking, a layer is upgraded to the high-bit setting
// when the model's bits per parameter after the upgrade stay <= the budget; a layer that does not
// fit is skipped and the walk goes on, so smaller, less sensitive layers can still use what is
// left. bits/param = 8 * sum(bytes of each layer at its setting) / sum(parameters).
// Thread safety: pure functions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qb {

struct LayerCost
{
    std::string name;
    int64_t parameters = 0; // in * out
    int64_t lowBytes = 0;   // weight bytes at the low-bit setting (no bias)
    int64_t highBytes = 0;  // weight bytes at the high-bit setting (no bias)
    double sensitivity = 0; // KL with only this layer at low bits; larger = more sensitive
};

struct BitAllocation
{
    std::vector<bool> upgraded;       // per layer, in the table's order
    std::vector<size_t> upgradeOrder; // indices into the table, in the order chosen
    double bitsPerParam = 0;
    bool feasible = true;             // false when even all-low exceeds the budget
};

// Indices of `layers` by descending sensitivity (stable).
std::vector<size_t> sensitivityRanking(const std::vector<LayerCost> &layers);

double bitsPerParam(const std::vector<LayerCost> &layers, const std::vector<bool> &upgraded);

// The greedy allocation described in the file comment.
BitAllocation greedyAllocation(const std::vector<LayerCost> &layers, double budgetBitsPerParam);

} // namespace qb
