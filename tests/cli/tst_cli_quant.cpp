// quantbench-cli quant tensor as a user drives it: .npy files written here, the dequantized
// weight compared with the kernels' scalar references, the report's numbers compared with values
// computed here in float64; and a headless run of model.random -> quantize (nf4, gptq) checking
// the quantized checkpoint and the result rows.
#include "io/npy.h"
#include "kernels/int_group.h"
#include "kernels/nf4.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <cmath>
#include <random>

namespace fs = std::filesystem;
using Mat = std::vector<float>;

namespace {

qbtest::CliResult cli(const QStringList &args, const fs::path &cache)
{
    return qbtest::runCli(args, cache, {{}, {}, 300000});
}

using qbtest::str;

Mat gaussian(size_t n, float stddev, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, stddev);
    Mat m(n);
    for (auto &v : m)
        v = d(rng);
    return m;
}

Mat readFloats(const fs::path &p, std::vector<int64_t> *shape = nullptr)
{
    const auto a = qb::io::readNpy(p);
    if (shape)
        *shape = a.shape;
    return qb::io::npyToFloat32(a);
}

struct Metrics
{
    double weightRel, relMse, sqnr, cosine, maxAbs;
};

// The report's definitions, in float64: W [out, in], Q [out, in], X [t, in].
Metrics metrics(const Mat &w, const Mat &q, const Mat &x, int64_t out, int64_t in, int64_t t)
{
    double dw = 0, nw = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        dw += (double(w[i]) - q[i]) * (double(w[i]) - q[i]);
        nw += double(w[i]) * w[i];
    }
    double s = 0, n = 0, yy = 0, qq = 0, m = 0;
    for (int64_t i = 0; i < t; ++i)
        for (int64_t o = 0; o < out; ++o) {
            double y = 0, yq = 0;
            for (int64_t j = 0; j < in; ++j) {
                y += double(x[i * in + j]) * w[o * in + j];
                yq += double(x[i * in + j]) * q[o * in + j];
            }
            s += y * y;
            n += (y - yq) * (y - yq);
            yy += y * yq;
            qq += yq * yq;
            m = std::max(m, std::fabs(y - yq));
        }
    return {std::sqrt(dw / nw), n / s, 10.0 * std::log10(s / n), yy / std::sqrt(s * qq), m};
}

bool near(double a, double b, double rel) { return std::fabs(a - b) <= rel * std::fabs(b); }

} // namespace

class TestCliQuant : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void helpListsEveryOption()
    {
        const fs::path tmp = qbtest::makeTempDir("cliq");
        auto r = cli({"quant", "tensor", "--help"}, tmp);
        QCOMPARE(r.code, 0);
        for (const char *opt :
             {"--method", "--bits", "--group-size", "--block-size", "--double-quant", "--sym",
              "--act-order", "--threshold", "--alpha", "--weight", "--calib", "--out", "--report"})
            QVERIFY2(r.out.contains(opt), opt);
        r = cli({"--help"}, tmp);
        QVERIFY(r.out.contains("quant "));
        r = cli({"quant", "tensor", "--weight", "w.npy"}, tmp);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--method"), qPrintable(r.err));
    }

    void nf4ReportMatchesIndependentComputation()
    {
        const fs::path tmp = qbtest::makeTempDir("cliq");
        const int64_t out = 64, in = 128, t = 32;
        const Mat w = gaussian(out * in, 0.05f, 1), x = gaussian(t * in, 1.0f, 2);
        qb::io::writeNpy(tmp / "w.npy", qb::io::DType::F32, {out, in}, w.data());
        qb::io::writeNpy(tmp / "x.npy", qb::io::DType::F32, {t, in}, x.data());
        auto r = cli({"quant", "tensor", "--method", "nf4", "--block-size", "64", "--weight",
                      str(tmp / "w.npy"), "--calib", str(tmp / "x.npy"), "--out",
                      str(tmp / "q.npy"), "--report", str(tmp / "r.json")},
                     tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        std::vector<int64_t> shape;
        const Mat q = readFloats(tmp / "q.npy", &shape);
        QCOMPARE(shape, (std::vector<int64_t>{out, in}));
        std::vector<uint8_t> packed(out * in / 2);
        Mat absmax(out * in / 64), ref(out * in);
        qb::kernels::quantize_nf4_ref(w.data(), out * in, 64, packed.data(), absmax.data());
        qb::kernels::dequantize_nf4_ref(packed.data(), absmax.data(), out * in, 64, ref.data());
        QCOMPARE(q, ref);
        const auto rep = nlohmann::json::parse(qbtest::readFile(tmp / "r.json"));
        QCOMPARE(rep["method"].get<std::string>(), std::string("nf4-b64"));
        QCOMPARE(rep["bits_per_param"].get<double>(), 4.5);
        QCOMPARE(rep["weight_bytes"].get<int64_t>(), out * in / 2 + out * in / 64 * 4);
        const Metrics m = metrics(w, ref, x, out, in, t);
        QVERIFY(near(rep["weight_rel_error"].get<double>(), m.weightRel, 1e-6));
        QVERIFY(near(rep["output_rel_mse"].get<double>(), m.relMse, 1e-3));
        QVERIFY(std::fabs(rep["sqnr_db"].get<double>() - m.sqnr) < 0.01);
        QVERIFY(std::fabs(rep["cosine"].get<double>() - m.cosine) < 1e-6);
        QVERIFY(near(rep["max_abs_error"].get<double>(), m.maxAbs, 1e-2));
        QVERIFY(m.sqnr > 15.0 && m.sqnr < 30.0); // NF4 at b64 on Gaussian weights: ~20 dB
        QCOMPARE(nlohmann::json::parse(r.out.toStdString()), rep);
    }

    void intGroupAndErrors()
    {
        const fs::path tmp = qbtest::makeTempDir("cliq");
        const int64_t out = 16, in = 96;
        const Mat w = gaussian(out * in, 0.1f, 3);
        qb::io::writeNpy(tmp / "w.npy", qb::io::DType::F32, {out, in}, w.data());
        auto r = cli({"quant", "tensor", "--method", "int", "--bits", "3", "--group-size", "32",
                      "--sym", "--weight", str(tmp / "w.npy"), "--out", str(tmp / "q.npy")},
                     tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const qb::kernels::IntGroupConfig cfg{3, 32, true};
        std::vector<uint8_t> packed(out * qb::kernels::int_group_row_bytes(3, in));
        Mat scales(out * 3), ref(out * in);
        qb::kernels::quantize_int_group_ref(w.data(), out, in, cfg, packed.data(), scales.data(),
                                            nullptr);
        qb::kernels::dequantize_int_group_ref(packed.data(), scales.data(), nullptr, out, in, cfg,
                                              ref.data());
        QCOMPARE(readFloats(tmp / "q.npy"), ref);
        const auto rep = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(rep["method"].get<std::string>(), std::string("int3-g32"));
        QCOMPARE(rep["bits_per_param"].get<double>(), 3.0 + 32.0 / 32); // 3 bits + fp32 scale/32
        QVERIFY(!rep.contains("sqnr_db"));

        r = cli({"quant", "tensor", "--method", "gptq", "--weight", str(tmp / "w.npy"), "--out",
                 str(tmp / "q2.npy")},
                tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("needs calibration data"), qPrintable(r.err));
        const float v[3] = {1, 2, 3};
        qb::io::writeNpy(tmp / "v.npy", qb::io::DType::F32, {3}, v);
        r = cli({"quant", "tensor", "--method", "int8", "--weight", str(tmp / "v.npy"), "--out",
                 str(tmp / "q3.npy")},
                tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("v.npy: expected a 2-D array"), qPrintable(r.err));
        r = cli({"quant", "tensor", "--method", "int9", "--weight", str(tmp / "w.npy"), "--out",
                 str(tmp / "q3.npy")},
                tmp);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("unknown method 'int9'"), qPrintable(r.err));
    }

    void llmInt8CountsOutlierColumns()
    {
        const fs::path tmp = qbtest::makeTempDir("cliq");
        const int64_t out = 8, in = 32, t = 16;
        const Mat w = gaussian(out * in, 0.1f, 4);
        Mat x = gaussian(t * in, 1.0f, 5);
        for (int64_t i = 0; i < t; ++i)
            x[i * in + 7] = 0.1f; // then one token gets an outlier in column 7 only
        x[3 * in + 7] = 25.0f;
        for (auto &v : x)
            v = std::max(-5.0f, std::min(5.0f, v)) + (&v == &x[3 * in + 7] ? 20.0f : 0.0f);
        qb::io::writeNpy(tmp / "w.npy", qb::io::DType::F32, {out, in}, w.data());
        qb::io::writeNpy(tmp / "x.npy", qb::io::DType::F32, {t, in}, x.data());
        auto r
            = cli({"quant", "tensor", "--method", "llm_int8", "--threshold", "6", "--weight",
                   str(tmp / "w.npy"), "--calib", str(tmp / "x.npy"), "--out", str(tmp / "q.npy")},
                  tmp);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto rep = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(rep["outlier_columns"].get<int>(), 1);
        QCOMPARE(rep["method"].get<std::string>(), std::string("llm_int8-t6"));
        QVERIFY(rep["sqnr_db"].get<double>() > 30.0); // int8 both sides, outlier kept in fp32
    }

    void quantizeNodeWritesCheckpointAndResults()
    {
        const fs::path tmp = qbtest::makeTempDir("cliq");
        const fs::path proj = tmp / "q.yaml";
        qbtest::writeFile(
            proj,
            "schema_version: 1\nname: q\nseed: 5\nnodes:\n"
            "  - {id: m, type: model.random, params: {vocab_size: 64, hidden_size: 64, "
            "intermediate_size: 128, layers: 2, heads: 4, kv_heads: 2}}\n"
            "  - {id: nf4, type: quantize, inputs: {model: m}, params: {method: nf4, "
            "block_size: 64, double_quant: true}}\n"
            "  - {id: gptq, type: quantize, inputs: {model: m}, params: {method: gptq, bits: 4, "
            "group_size: 32, overrides: ['model.layers.*.mlp.down_proj: method=int bits=8 "
            "group_size=0'], "
            "calibration: {source: random, samples: 4, seq_len: 16}}}\n");
        const fs::path out = tmp / "run";
        auto r = cli({"run", str(proj), "--out", str(out)}, tmp / "cache");
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        const auto results = nlohmann::json::parse(qbtest::readFile(out / "results.json"));
        std::map<std::string, nlohmann::json> rows;
        for (const auto &row : results["results"])
            if (row.contains("label"))
                rows[row["model"].get<std::string>()] = row;
        QCOMPARE(rows["nf4"]["label"].get<std::string>(), std::string("nf4-dq-b64"));
        // 4 bits + 8 bits / 64 + 32 bits / (64 * 256) + the offset per layer: just above 4.127.
        const double bpp = rows["nf4"]["bits_per_param"].get<double>();
        QVERIFY2(bpp > 4.12 && bpp < 4.14, qPrintable(QString::number(bpp)));
        QCOMPARE(rows["gptq"]["label"].get<std::string>(), std::string("gptq-int4-g32-asym+mixed"));
        const auto config
            = nlohmann::json::parse(qbtest::readFile(out / "nodes" / "gptq" / "config.json"));
        const auto &layers = config["quantization_config"]["layers"];
        QCOMPARE(layers["model.layers.0.mlp.down_proj"]["method"].get<std::string>(),
                 std::string("int"));
        QCOMPARE(layers["model.layers.0.mlp.down_proj"]["bits"].get<int>(), 8);
        QCOMPARE(layers["model.layers.1.self_attn.q_proj"]["method"].get<std::string>(),
                 std::string("gptq"));
        QVERIFY(!layers.contains("lm_head"));
    }
};

QTEST_GUILESS_MAIN(TestCliQuant)
#include "tst_cli_quant.moc"
