#include "api/registry.h"
#include "nodes/nodes.h"

namespace qb {

const NodeRegistry &builtinRegistry()
{
    static const NodeRegistry registry = [] {
        NodeRegistry r;
        registerModelNodes(r);
        registerGenerateNodes(r);
        registerQuantNodes(r);
        registerDatasetNodes(r);
        registerBuiltinModelNodes(r);
        registerEvaluateNodes(r);
        registerPerplexityNodes(r);
        registerSweepNodes(r);
        registerAnalyzeNodes(r);
        registerFinetuneNodes(r);
        registerGrpoNodes(r);
        return r;
    }();
    return registry;
}

} // namespace qb
