#include "quant/methods/method_common.h"

#include "quant/int_group_linear.h"
#include "quant/nf4_linear.h"
#include "util/error.h"

#include <sstream>

namespace qb::method_common {

ParamSpec actBitsParam()
{
    return ParamSpec::integer("act_bits", 0,
                              "also quantize each input row (token) to this many bits, symmetric "
                              "absmax per token (0 = weight-only, float32 inputs)")
        .range(0, 8);
}

QuantMethod intGroupMethod(const std::string &name, const std::string &description)
{
    QuantMethod m;
    m.name = name;
    m.description = description;
    m.params = {ParamSpec::integer("bits", 4, "bits per weight (2, 3, 4 or 8)").range(2, 8),
            ParamSpec::integer("group_size", 128,
                               "weights per scale along the input (0 = per channel, -1 = one "
                               "scale for the whole matrix: int only)")
                .range(-1, 1 << 20),
            ParamSpec::boolean("symmetric", false,
                               "no zero point (otherwise asymmetric with one per group)"),
            actBitsParam()};
    const std::string prefix = name == "int" ? "" : name + "-";
    m.label = [prefix](const MethodSpec &s) { return prefix + intGroupLabel(intGroupConfig(s)); };
    m.validate = [](const MethodSpec &s, const std::string &where) {
        const int64_t bits = s.integer("bits");
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
            throw Error(where + ": bits " + std::to_string(bits)
                        + " is not supported (2, 3, 4, 8)");
        if (s.integer("group_size") < 0 && s.method != "int")
            throw Error(where + ": group_size -1 (per tensor) is only for method int");
    };
    m.load = [name](const nlohmann::json &config, const std::map<std::string, at::Tensor> &t,
                    int64_t out, int64_t in,
                    const std::string &) -> std::shared_ptr<QuantizedLinear> {
        kernels::IntGroupConfig cfg;
        cfg.bits = config.at("bits").get<int>();
        cfg.group_size = config.at("group_size").get<int>();
        cfg.symmetric = config.at("symmetric").get<bool>();
        auto op = std::make_shared<IntGroupLinear>(cfg, out, in, t);
        op->setMethod(name);
        return op;
    };
    return m;
}

kernels::IntGroupConfig intGroupConfig(const MethodSpec &m)
{
    kernels::IntGroupConfig c;
    c.bits = static_cast<int>(m.integer("bits"));
    c.group_size = static_cast<int>(m.integer("group_size"));
    c.symmetric = m.boolean("symmetric");
    return c;
}

QuantMethod codebook4Method(const std::string &name, kernels::Codebook4 codebook,
                            const std::string &description)
{
    QuantMethod m;
    m.name = name;
    m.description = description;
    m.params = {ParamSpec::integer("block_size", 64, "weights per absmax block").range(32, 4096),
                ParamSpec::boolean("double_quant", false, "quantize the absmax values"),
                actBitsParam()};
    m.label = [name](const MethodSpec &s) {
        return name + (s.boolean("double_quant") ? "-dq" : "") + "-b"
            + std::to_string(s.integer("block_size"));
    };
    m.validate = [](const MethodSpec &s, const std::string &where) {
        const int64_t b = s.integer("block_size");
        if (b < 32 || b > 4096 || b % 2 != 0)
            throw Error(where + ": block_size " + std::to_string(b)
                        + " must be even and in 32..4096");
    };
    m.quantize = [codebook](const at::Tensor &w, const at::Tensor &b, const LayerCalibration *,
                            const MethodSpec &s, const std::string &) {
        return Nf4Linear::quantize(w, b, codebook, static_cast<int>(s.integer("block_size")),
                                   s.boolean("double_quant"));
    };
    m.load = [codebook](const nlohmann::json &config,
                        const std::map<std::string, at::Tensor> &t, int64_t out, int64_t in,
                        const std::string &) -> std::shared_ptr<QuantizedLinear> {
        return std::make_shared<Nf4Linear>(codebook, out, in, config.at("block_size").get<int>(),
                                           t);
    };
    return m;
}

std::string number(double v)
{
    std::ostringstream ss;
    ss << v;
    return ss.str();
}

} // namespace qb::method_common
