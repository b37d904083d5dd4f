// The quantize node calibrated on a connected dataset (model.random + dataset.gsm8k + gptq, run
// through the executor). The expected calibration sequences are built here from the dataset's
// records file by the documented rule (record text "Question: Q\nAnswer: A\n\n", the model's
// tokenizer or raw bytes, `samples` non-overlapping windows of `seq_len` spread evenly); the node
// is shown to have used exactly them by re-quantizing the saved base model with them (torch side
// in quantize_calibration_probe.cpp) and getting the node's weights bit for bit. GPTQ calibrated
// on the data must then beat round-to-nearest INT4 of the same group size on that data.
#include "api/executor.h"
#include "api/experiment.h"
#include "api/registry.h"
#include "quantize_calibration_probe.h"
#include "support/test_support.h"

#include <QtTest>

#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;
using qbprobe::Sequences;

namespace {

const char kModel[] = "{vocab_size: 256, hidden_size: 64, intermediate_size: 128, layers: 2, "
                      "heads: 4, kv_heads: 2, max_positions: 64}";

qb::RunSummary runYaml(const std::string &yaml, const fs::path &root, const std::string &out,
                       std::vector<qb::Event> *events = nullptr)
{
    const auto &registry = qb::builtinRegistry();
    qb::RunOptions opt;
    opt.outDir = root / out;
    opt.cacheDir = root / "cache";
    qb::CancelToken cancel;
    return qb::runExperiment(qb::parseExperiment(yaml, out + ".yaml", registry), registry, opt,
                             [&](const qb::Event &e) {
                                 if (events)
                                     events->push_back(e);
                             },
                             cancel);
}

// The calibration text of a GSM8K records file, straight from its JSON lines.
std::string gsmText(const fs::path &records)
{
    std::ifstream in(records);
    std::string line, text;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        const json r = json::parse(line);
        text += "Question: " + r["question"].get<std::string>()
            + "\nAnswer: " + r["answer"].get<std::string>() + "\n\n";
    }
    return text;
}

// Window s of count covers tokens [w * len, (w + 1) * len) with w = s * (fit - 1) / (count - 1),
// fit = the number of whole windows in the stream: first and last window included.
Sequences windows(const std::vector<int64_t> &stream, int64_t samples, int64_t len)
{
    const int64_t fit = static_cast<int64_t>(stream.size()) / len;
    const int64_t count = std::min(samples, fit);
    Sequences out;
    for (int64_t s = 0; s < count; ++s) {
        const int64_t w = count > 1 ? s * (fit - 1) / (count - 1) : 0;
        out.emplace_back(stream.begin() + w * len, stream.begin() + (w + 1) * len);
    }
    return out;
}

std::vector<int64_t> bytesOf(const std::string &text)
{
    std::vector<int64_t> ids;
    for (unsigned char c : text)
        ids.push_back(c);
    return ids;
}

// ||a - ref||^2 / ||ref||^2 in float64.
double relError(const std::vector<float> &a, const std::vector<float> &ref)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        num += (double(a[i]) - ref[i]) * (double(a[i]) - ref[i]);
        den += double(ref[i]) * ref[i];
    }
    return num / den;
}

json artifactOf(const fs::path &runDir, const std::string &node)
{
    return json::parse(qbtest::readFile(runDir / "nodes" / node / "artifact.json"));
}

} // namespace

class TestQuantizeCalibration : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void gptqCalibratesOnTheDatasetBytes()
    {
        const fs::path root = qbtest::makeTempDir("quant_calib");
        const int64_t samples = 8, len = 48;
        const std::string yaml = std::string("schema_version: 1\nname: calib\nseed: 11\nnodes:\n")
            + "  - {id: base, type: model.random, params: " + kModel + "}\n"
            + "  - {id: gsm, type: dataset.gsm8k, params: {source: synthetic, limit: 12}}\n"
              "  - {id: gptq, type: quantize, inputs: {model: base, calibration: gsm},\n"
              "     params: {method: gptq, bits: 4, group_size: 32,\n"
              "              calibration: {samples: 8, seq_len: 48}}}\n"
              "  - {id: rtn, type: quantize, inputs: {model: base},\n"
              "     params: {method: int, bits: 4, group_size: 32}}\n"
              "  - {id: rand, type: quantize, inputs: {model: base},\n"
              "     params: {method: gptq, bits: 4, group_size: 32,\n"
              "              calibration: {source: random, samples: 8, seq_len: 48}}}\n";
        const auto run = runYaml(yaml, root, "r1");
        QVERIFY2(run.status == "ok", run.error.c_str());
        const fs::path dir = run.runDir;

        // model.random writes no tokenizer.json: the text's bytes are the token ids.
        QVERIFY(!fs::exists(dir / "nodes" / "base" / "tokenizer.json"));
        const std::string text = gsmText(dir / "nodes" / "gsm" / "records.jsonl");
        QVERIFY(int64_t(text.size()) > samples * len);
        const Sequences expected = windows(bytesOf(text), samples, len);
        QCOMPARE(int64_t(expected.size()), samples);

        const json meta = artifactOf(dir, "gptq")["meta"];
        QCOMPARE(meta["calibration"]["source"].get<std::string>(), std::string("dataset gsm (bytes)"));
        QCOMPARE(meta["calibration"]["sequences"].get<int64_t>(), samples);
        QCOMPARE(meta["calibration"]["seq_len"].get<int64_t>(), len);
        QCOMPARE(artifactOf(dir, "rand")["meta"]["calibration"]["source"].get<std::string>(),
                 std::string("random tokens"));

        const std::string params = artifactOf(dir, "gptq")["params"].dump();
        const std::string base = (dir / "nodes" / "base").string();
        const std::string gptq = (dir / "nodes" / "gptq").string();
        QCOMPARE(qbprobe::requantizationGap(base, gptq, params, expected), 0.0);
        // The comparison notices other sequences: the same windows moved by one byte do not match.
        Sequences shifted;
        const auto all = bytesOf(text);
        for (int64_t s = 0; s < samples; ++s) {
            const auto at = std::search(all.begin(), all.end(), expected[s].begin(),
                                        expected[s].end());
            const auto from = at == all.begin() ? at + 1 : at - 1;
            shifted.emplace_back(from, from + len);
        }
        QVERIFY(qbprobe::requantizationGap(base, gptq, params, shifted) > 0);

        // GPTQ fitted to these activations beats round-to-nearest at the same group size on them,
        // and so does it beat GPTQ fitted to random tokens.
        const auto dense = qbprobe::logitsOf(base, expected);
        const double eGptq = relError(qbprobe::logitsOf(gptq, expected), dense);
        const double eRtn = relError(
            qbprobe::logitsOf((dir / "nodes" / "rtn").string(), expected), dense);
        const double eRand = relError(
            qbprobe::logitsOf((dir / "nodes" / "rand").string(), expected), dense);
        const QByteArray report = QByteArray("gptq ") + QByteArray::number(eGptq) + " rtn "
            + QByteArray::number(eRtn) + " gptq(random) " + QByteArray::number(eRand);
        qInfo("%s", report.constData());
        QVERIFY2(eGptq > 0 && eGptq < eRtn, report.constData());
        QVERIFY2(eGptq < eRand, report.constData()); // 4.5x apart here; deterministic seeds

        // text_file with the same text gives the same sequences, hence the same weights.
        const fs::path file = root / "calibration.txt";
        qbtest::writeFile(file, text);
        const std::string withFile = yaml
            + "  - {id: file, type: quantize, inputs: {model: base},\n"
              "     params: {method: gptq, bits: 4, group_size: 32,\n"
              "              calibration: {source: text_file, path: '"
            + file.string() + "', samples: 8, seq_len: 48}}}\n";
        const auto second = runYaml(withFile, root, "r2");
        QVERIFY2(second.status == "ok", second.error.c_str());
        QVERIFY(second.results["nodes"]["gptq"]["cached"].get<bool>());
        QVERIFY(!second.results["nodes"]["file"]["cached"].get<bool>());
        QCOMPARE(artifactOf(second.runDir, "file")["meta"]["calibration"]["source"]
                     .get<std::string>(),
                 "text file " + file.string() + " (bytes)");
        QCOMPARE(qbprobe::requantizationGap(base, (second.runDir / "nodes" / "file").string(),
                                            params, expected),
                 0.0);
        fs::remove_all(root);
    }

    void gptqCalibratesOnTheModelsTokenizer()
    {
        const fs::path root = qbtest::makeTempDir("quant_calib_tok");
        const std::string head = "schema_version: 1\nname: tok\nseed: 5\nnodes:\n"
                                 "  - {id: gsm, type: dataset.gsm8k, params: {limit: 10}}\n";
        const auto first = runYaml(
            head + "  - {id: base, type: model.random, params: " + kModel + "}\n", root, "r1");
        QVERIFY2(first.status == "ok", first.error.c_str());
        const std::string text = gsmText(first.runDir / "nodes" / "gsm" / "records.jsonl");

        // A WordLevel tokenizer splitting on whitespace: [UNK] = 0, then the text's first 60
        // distinct words in order of appearance; the rest are unknown.
        std::map<std::string, int64_t> vocab{{"[UNK]", 0}};
        std::vector<std::string> words;
        {
            std::istringstream in(text);
            std::string w;
            while (in >> w) {
                words.push_back(w);
                if (!vocab.count(w) && vocab.size() <= 60)
                    vocab.emplace(w, int64_t(vocab.size()));
            }
        }
        std::vector<int64_t> stream;
        int64_t unknown = 0;
        for (const auto &w : words) {
            const auto it = vocab.find(w);
            stream.push_back(it == vocab.end() ? 0 : it->second);
            unknown += it == vocab.end();
        }
        QVERIFY(unknown > 0);
        const fs::path model = root / "tok_model";
        fs::copy(first.runDir / "nodes" / "base", model, fs::copy_options::recursive);
        const json tokenizer{{"version", "1.0"},
                             {"truncation", nullptr},
                             {"padding", nullptr},
                             {"added_tokens", json::array()},
                             {"normalizer", nullptr},
                             {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
                             {"post_processor", nullptr},
                             {"decoder", nullptr},
                             {"model", {{"type", "WordLevel"}, {"vocab", vocab},
                                        {"unk_token", "[UNK]"}}}};
        qbtest::writeFile(model / "tokenizer.json", tokenizer.dump());

        const int64_t samples = 6, len = 24;
        const auto second = runYaml(
            head + "  - {id: m, type: model.load, params: {path: '" + model.string() + "'}}\n"
                "  - {id: gptq, type: quantize, inputs: {model: m, calibration: gsm},\n"
                "     params: {method: gptq, bits: 4, group_size: 32,\n"
                "              calibration: {samples: 6, seq_len: 24}}}\n",
            root, "r2");
        QVERIFY2(second.status == "ok", second.error.c_str());
        const json artifact = artifactOf(second.runDir, "gptq");
        QCOMPARE(artifact["meta"]["calibration"]["source"].get<std::string>(),
                 std::string("dataset gsm (tokenizer.json (WordLevel))"));
        const Sequences expected = windows(stream, samples, len);
        QCOMPARE(int64_t(expected.size()), samples);
        const std::string quant = (second.runDir / "nodes" / "gptq").string();
        QCOMPARE(qbprobe::requantizationGap(model.string(), quant, artifact["params"].dump(),
                                            expected),
                 0.0);
        // Byte windows of the same text are other sequences, and the comparison tells.
        QVERIFY(qbprobe::requantizationGap(model.string(), quant, artifact["params"].dump(),
                                           windows(bytesOf(text), samples, len))
                > 0);
        fs::remove_all(root);
    }
};

QTEST_GUILESS_MAIN(TestQuantizeCalibration)
#include "tst_quantize_calibration.moc"
