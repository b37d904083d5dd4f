#include "analysis/bit_allocation.h"

#include <algorithm>
#include <numeric>

namespace qb {

std::vector<size_t> sensitivityRanking(const std::vector<LayerCost> &layers)
{
    std::vector<size_t> order(layers.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return layers[a].sensitivity > layers[b].sensitivity;
    });
    return order;
}

double bitsPerParam(const std::vector<LayerCost> &layers, const std::vector<bool> &upgraded)
{
    int64_t params = 0, bytes = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
        params += layers[i].parameters;
        bytes += upgraded[i] ? layers[i].highBytes : layers[i].lowBytes;
    }
    return params ? 8.0 * double(bytes) / double(params) : 0.0;
}

BitAllocation greedyAllocation(const std::vector<LayerCost> &layers, double budgetBitsPerParam)
{
    BitAllocation a;
    a.upgraded.assign(layers.size(), false);
    int64_t params = 0, bytes = 0;
    for (const auto &l : layers) {
        params += l.parameters;
        bytes += l.lowBytes;
    }
    // Compare in bytes (integers): bits/param <= budget  <=>  8 * bytes <= budget * params.
    const double limit = budgetBitsPerParam * double(params);
    a.feasible = 8.0 * double(bytes) <= limit;
    if (a.feasible)
        for (size_t i : sensitivityRanking(layers)) {
            const int64_t after = bytes - layers[i].lowBytes + layers[i].highBytes;
            if (8.0 * double(after) <= limit) {
                bytes = after;
                a.upgraded[i] = true;
                a.upgradeOrder.push_back(i);
            }
        }
    a.bitsPerParam = params ? 8.0 * double(bytes) / double(params) : 0.0;
    return a;
}

} // namespace qb
