// quantbench-cli quant tensor: quantize one weight matrix from a .npy file and report the error,
// optionally on the outputs for given inputs. The work is core's quantizeTensor(); the method
// options are the quantize node's method parameters, so a new method's appear here by themselves.
#include "api/registry.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/npy.h"
#include "quant/tensor_quant.h"
#include "util/error.h"
#include "util/files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>

namespace qbcli {

namespace {

// The quantize node's method parameters (generated from the method table), each an option named
// after it with dashes: --bits 4, --group-size 0, --double-quant / --no-double-quant.
std::vector<const qb::ParamSpec *> methodParams()
{
    std::vector<const qb::ParamSpec *> out;
    for (const auto &p : qb::builtinRegistry().find("quantize")->params)
        if (p.shownWhen == "method")
            out.push_back(&p);
    return out;
}

std::string optionName(std::string name)
{
    std::replace(name.begin(), name.end(), '_', '-');
    return name;
}

std::string quantHelp()
{
    std::string methods;
    for (const auto &m : qb::builtinRegistry().find("quantize")->param("method")->choices)
        methods += (methods.empty() ? "" : ", ") + m;
    std::ostringstream h;
    h << "usage: quantbench-cli quant tensor --method M --weight W.npy --out Q.npy [options]\n\n"
         "Quantizes a weight matrix W [out, in] (float32 .npy, or f16/int) and writes the "
         "dequantized\n"
         "weight (float32, same shape) to Q.npy; prints a JSON report (also to --report):\n"
         "method, weight_bytes, bits_per_param, weight_rel_error and, with --calib X [tokens, "
         "in],\n"
         "output_rel_mse, sqnr_db, cosine, max_abs_error of Y = X W^T against the quantized "
         "layer.\n\n"
         "options:\n"
      << "  --method M        " << methods << "\n"
      << "  --weight W.npy    weight [out, in]\n"
         "  --out Q.npy       dequantized weight to write (for awq/smoothquant: the equivalent "
         "weight\n"
         "                    with the input scaling folded in)\n"
         "  --calib X.npy     calibration / evaluation inputs [tokens, in] (needed by gptq, awq,\n"
         "                    smoothquant)\n"
         "  --report R.json   write the report here too\n\n"
         "method parameters (as the quantize node's; a flag --x sets true, --no-x false):\n";
    for (const qb::ParamSpec *p : methodParams()) {
        std::string opt = "--" + optionName(p->name);
        if (p->kind != qb::ParamKind::Bool)
            opt += " " + qb::toString(p->kind);
        h << "  " << opt << std::string(opt.size() < 18 ? 18 - opt.size() : 1, ' ')
          << p->description << " (default " << p->defaultValue.dump() << ")\n";
    }
    h << "  --sym             the same as --symmetric\n"
         "  --no-clip         the same as --no-clip-search\n";
    return h.str();
}

// The method's settings as the quantize node's parameters; keys not given keep their defaults.
nlohmann::json methodJson(const Args &args)
{
    nlohmann::json spec = {{"method", args.required("method")}};
    for (const qb::ParamSpec *p : methodParams()) {
        const std::string opt = optionName(p->name);
        if (p->kind == qb::ParamKind::Bool) {
            if (args.flag(opt))
                spec[p->name] = true;
            if (args.flag("no-" + opt))
                spec[p->name] = false;
        } else if (args.value(opt)) {
            if (p->kind == qb::ParamKind::Int)
                spec[p->name] = args.integer(opt, 0);
            else
                spec[p->name] = args.number(opt, 0.0);
        }
    }
    if (args.flag("sym"))
        spec["symmetric"] = true;
    if (args.flag("no-clip"))
        spec["clip_search"] = false;
    return spec;
}

std::vector<float> readMatrix(const std::string &path, int64_t &rows, int64_t &cols)
{
    const qb::io::NpyArray a = qb::io::readNpy(path);
    if (a.shape.size() != 2)
        throw qb::Error(path + ": expected a 2-D array, got " + std::to_string(a.shape.size())
                        + " dimensions");
    rows = a.shape[0];
    cols = a.shape[1];
    return qb::io::npyToFloat32(a);
}

} // namespace

int cmdQuant(const std::vector<std::string> &argv)
{
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
        std::cout << quantHelp();
        return argv.empty() ? 2 : 0;
    }
    if (argv[0] != "tensor")
        throw UsageError("unknown quant subcommand '" + argv[0] + "' (expected: tensor)");
    std::set<std::string> values{"method", "weight", "out", "calib", "report"};
    std::set<std::string> flags{"sym", "no-clip", "help"};
    for (const qb::ParamSpec *p : methodParams()) {
        const std::string opt = optionName(p->name);
        if (p->kind == qb::ParamKind::Bool) {
            flags.insert(opt);
            flags.insert("no-" + opt);
        } else {
            values.insert(opt);
        }
    }
    Args args({argv.begin() + 1, argv.end()}, values, flags);
    if (args.flag("help")) {
        std::cout << quantHelp();
        return 0;
    }
    if (!args.positionals().empty())
        throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
    const nlohmann::json spec = methodJson(args);
    const std::string weightPath = args.required("weight");
    const std::string outPath = args.required("out");
    int64_t out = 0, in = 0, tokens = 0, xin = 0;
    const std::vector<float> w = readMatrix(weightPath, out, in);
    std::vector<float> x;
    if (auto calib = args.value("calib")) {
        x = readMatrix(*calib, tokens, xin);
        if (xin != in)
            throw qb::Error(*calib + ": inputs have " + std::to_string(xin)
                            + " columns, the weight " + weightPath
                            + " has in = " + std::to_string(in));
    }
    const qb::TensorQuantResult r = qb::quantizeTensor(w, out, in, x, tokens, spec);
    qb::io::writeNpy(outPath, qb::io::DType::F32, {out, in}, r.dequantized.data());
    const std::string report = r.toJson().dump(2) + "\n";
    if (auto path = args.value("report"))
        qb::writeFileAtomic(*path, report);
    std::cout << report;
    return 0;
}

} // namespace qbcli
