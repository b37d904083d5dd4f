// api/model_export.h: the GGUF and Hugging Face GPTQ/AWQ exports behind one call.
#include "api/model_export.h"

#include "api/hf_export.h"
#include "model/gguf_export.h"
#include "util/error.h"

#include <algorithm>
#include <cstdio>

namespace qb {

std::vector<std::string> modelExportFormats() { return {"gguf", "gptq", "awq"}; }

std::vector<std::string> ggufExportTypes() { return {"f32", "f16", "q8_0", "q4_0"}; }

std::string exportModel(const ModelExportRequest &r)
{
    char line[256];
    if (r.format == "gguf") {
        GgufExportOptions o;
        o.type = r.ggufType;
        o.progress = r.progress;
        const GgufExportReport rep = exportGgufFromPath(r.model, r.out, o);
        double worst = 0.0;
        for (const auto &t : rep.tensors)
            worst = std::max(worst, t.relError);
        std::snprintf(line, sizeof line,
                      "%s: GGUF %s (%s), %zu tensors, %.1f MiB; largest relative tensor error "
                      "%.3g",
                      rep.path.c_str(), rep.type.c_str(), rep.architecture.c_str(),
                      rep.tensors.size(), rep.fileBytes / 1048576.0, worst);
        return line;
    }
    if (r.format == "gptq" || r.format == "awq") {
        const HfExportSummary s = exportHfQuantFolder(r.format, r.model, r.out, true);
        std::snprintf(line, sizeof line,
                      "%s: %s folder, %lld quantized layers; float16 scales change weights by "
                      "at most %.3g (relative)",
                      r.out.string().c_str(), r.format == "gptq" ? "GPTQ" : "AWQ",
                      static_cast<long long>(s.quantizedLayers), s.maxScaleRelChange);
        return line;
    }
    throw Error("unknown export format '" + r.format + "' (gguf, gptq, awq)");
}

} // namespace qb
