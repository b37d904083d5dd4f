#include "nodes/node_inputs.h"

#include "nodes/nodes.h"
#include "util/error.h"

namespace qb {

ModelBundle loadModelBundle(const Artifact &model)
{
    ModelBundle b = loadModelBundle(modelDir(model));
    b.provenance.label = model.meta.value("label", b.provenance.label);
    b.provenance.precision = model.meta.value("precision", b.provenance.precision);
    return b;
}

eval::QuestionSet loadDatasetQuestions(const Artifact &dataset, const eval::PromptOptions &options)
{
    const std::string task = dataset.meta.value("task", "");
    eval::Task t;
    try {
        t = eval::taskFromName(task);
    } catch (const Error &) {
        throw Error("dataset '" + dataset.nodeId + "' has unknown task '" + task + "'");
    }
    const auto file = dataset.dir / dataset.meta.at("file").get<std::string>();
    return eval::loadQuestions(t, file, options, dataset.meta.value("shuffle_seed", uint64_t(1234)));
}

} // namespace qb
