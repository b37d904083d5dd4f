// The rules for connecting two nodes, in one place for the YAML validator and the GUI editor:
// port types must match, single inputs take one connection, no duplicates, no self-loops, no
// cycles. Pure functions over plain data; thread-safe.
#pragma once
#include "api/experiment.h"
#include "api/registry.h"

#include <string>

namespace qb {

// Whether an output of type `outputType` may feed an input port of type `portType`.
bool portAccepts(const std::string &portType, const std::string &outputType);

// Why the output of node `from` may not be connected to input `port` of node `to` in
// `experiment`, as a sentence for the user; empty when it may.
std::string connectionError(const Experiment &experiment, const NodeRegistry &registry,
                            const std::string &from, const std::string &to,
                            const std::string &port);

} // namespace qb
