// The tokenizer on inputs written here: the built-in word format (splitting, the spacing rule,
// round trips over the GSM and GPQA generators' output, save and reload) and small tokenizer.json
// documents whose expected ids are worked out by hand in the comments (WordLevel, BPE merges in
// both spellings, byte fallback, unknown-token fusing, ignore_merges), plus the error messages
// for unsupported components. Real Hugging Face files are in tst_tokenizer_hf.cpp.
#include "data/gpqa_generator.h"
#include "data/gsm_generator.h"
#include "support/error_of.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <QtTest>

#include <functional>

using qb::Tokenizer;
using Ids = std::vector<std::int32_t>;

using qbtest::errorOf;

namespace {

// A built-in tokenizer whose vocabulary is every word of texts.
Tokenizer builtinFor(const std::vector<std::string> &texts)
{
    std::vector<std::string> words;
    for (const std::string &t : texts) {
        for (std::string &w : Tokenizer::splitBuiltinWords(t))
            words.push_back(std::move(w));
    }
    qb::SpecialTokenNames specials;
    specials.pad = "<pad>";
    specials.bos = "<bos>";
    specials.eos = "<eos>";
    specials.unk = "<unk>";
    return Tokenizer::makeWordLevel(words, specials);
}

// A small BPE document: vocab {a b c ab abc bc <unk>} and the given merges and options.
std::string bpeJson(const std::string &merges, const std::string &options)
{
    return R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4,
        "bc": 5, "<unk>": 6, "<0x41>": 7, "<0x42>": 8}, "merges": )"
        + merges + options + "}}";
}

} // namespace

class TestTokenizer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void builtinSplitsIntegersAndPunctuation()
    {
        QCOMPARE(Tokenizer::splitBuiltinWords("12 + 7 = 19."),
                 (std::vector<std::string>{"12", "+", "7", "=", "19", "."}));
        QCOMPARE(Tokenizer::splitBuiltinWords("Tom's 3 km/h\n#### 4"),
                 (std::vector<std::string>{"Tom's", "3", "km/h", "\n", "#", "#", "#", "#", "4"}));
        QCOMPARE(Tokenizer::splitBuiltinWords("M(H2O) = (1/2)^3"),
                 (std::vector<std::string>{"M(", "H2O", ")", "=", "(", "1", "/", "2", ")", "^",
                                           "3"}));
        QCOMPARE(Tokenizer::splitBuiltinWords("  a\t\r\nb  "),
                 (std::vector<std::string>{"a", "\n", "b"}));
    }

    void builtinIdsAndSpecials()
    {
        qb::SpecialTokenNames specials;
        specials.pad = "<pad>";
        specials.bos = "<bos>";
        specials.eos = "<eos>";
        specials.unk = "<unk>";
        const Tokenizer t = Tokenizer::makeWordLevel({"Tom", "has", "12", "Tom", "."}, specials);
        // Specials 0..3 in the order pad, bos, eos, unk; then "\n" = 4; then the words, duplicates
        // skipped: Tom 5, has 6, 12 7, . 8.
        QCOMPARE(t.vocabSize(), 9);
        QCOMPARE(t.padId(), std::optional<std::int32_t>(0));
        QCOMPARE(t.bosId(), std::optional<std::int32_t>(1));
        QCOMPARE(t.eosId(), std::optional<std::int32_t>(2));
        QCOMPARE(t.unkId(), std::optional<std::int32_t>(3));
        QCOMPARE(t.encode("Tom has 12 pears.\nTom"), (Ids{5, 6, 7, 3, 8, 4, 5}));
        QCOMPARE(t.encode("Tom", true), (Ids{1, 5}));
        QCOMPARE(t.encode("has 12<eos>"), (Ids{6, 7, 2}));
        QCOMPARE(t.decode({1, 5, 6, 7, 8, 2}, true), std::string("Tom has 12."));
        QCOMPARE(t.decode({5, 2}), std::string("Tom <eos>"));
        QVERIFY(t.isSpecial(2));
        QVERIFY(!t.isSpecial(5));
        QCOMPARE(t.tokenId("has"), std::optional<std::int32_t>(6));
        QCOMPARE(t.tokenText(4), std::string("\n"));
        QCOMPARE(t.modelType(), std::string("WordLevel"));
    }

    void builtinSpacingRule_data()
    {
        QTest::addColumn<QString>("text");
        QTest::newRow("equation") << "Tom has 12 + 7 = 19 apples.";
        QTest::newRow("lines") << "He has 3 - 1 = 2 cars.\nThen he has 2 * 3 = 6 cars.\n#### 6";
        QTest::newRow("question") << "How many apples does Anna have now?";
        QTest::newRow("decimal") << "The speed is 2.5 km/h, so it takes 0.25 h.";
        QTest::newRow("thousands") << "She earns $1,200 and spends 40%.";
        QTest::newRow("negative") << "x = -5, and (-3) + 2 = -1.\n-4 is less.";
        QTest::newRow("minus") << "19 - 5 = 14";
        QTest::newRow("units") << "density = 10 g / 2 cm^3 = 5 g/cm^3.";
        QTest::newRow("choices") << "Answer: (B) 42; not [C] 7!";
        QTest::newRow("kinetic energy")
            << "KE = 1/2 x m x v^2 = 0.5 x 23 kg x (13 m/s)^2 = 1944 J.";
        QTest::newRow("formula") << "M(H2O) = 18.02 g/mol for water (H2O); f(-2) = 4.";
        QTest::newRow("blank lines") << "a\n\nb\n";
        QTest::newRow("apostrophe") << "Tom's friend doesn't know.";
    }

    void builtinSpacingRule()
    {
        QFETCH(QString, text);
        const std::string s = text.toStdString();
        const Tokenizer t = builtinFor({s});
        QCOMPARE(t.decode(t.encode(s)), s);
    }

    void builtinRoundTripsGeneratorOutput()
    {
        std::vector<std::string> texts;
        qb::data::GsmGeneratorOptions gsm;
        for (const auto split : {qb::data::Split::Train, qb::data::Split::Test}) {
            for (const auto &p : qb::data::generateGsmProblems(gsm, split, 300))
                texts.push_back(p.record.question + "\n" + p.record.solution);
            for (const auto &r : qb::data::generateGpqaRecords({}, split, 150)) {
                texts.push_back(r.question);
                texts.push_back(r.explanation);
                texts.insert(texts.end(), r.choices.begin(), r.choices.end());
            }
        }
        const Tokenizer t = builtinFor(texts);
        int failures = 0;
        for (const std::string &text : texts) {
            const Ids ids = t.encode(text);
            for (const std::int32_t id : ids)
                QVERIFY(id >= 0 && id < t.vocabSize() && id != *t.unkId());
            const std::string back = t.decode(ids);
            if (back != text && ++failures <= 5)
                qWarning("round trip differs:\n  in:  %s\n  out: %s", text.c_str(), back.c_str());
        }
        QCOMPARE(failures, 0);
    }

    void builtinSaveAndReload()
    {
        const std::string text = "Tom has 12 + 7 = 19 apples.\n#### 19";
        const Tokenizer t = builtinFor({text});
        const auto dir = qbtest::makeTempDir("tokenizer");
        t.save(dir / "tokenizer.json");
        const Tokenizer back = Tokenizer::fromFile(dir / "tokenizer.json");
        QCOMPARE(back.encode(text, true), t.encode(text, true));
        QCOMPARE(back.decode(back.encode(text)), text);
        QCOMPARE(back.bosId(), t.bosId());
        QCOMPARE(back.eosId(), t.eosId());
        QCOMPARE(back.vocabSize(), t.vocabSize());
        const std::string saved = qbtest::readFile(dir / "tokenizer.json");
        QVERIFY(saved.find("\"type\": \"WordLevel\"") != std::string::npos);
        QVERIFY(saved.find("\"type\": \"Split\"") != std::string::npos);
    }

    void makeWordLevelRejectsWordsTheSplitterCannotProduce()
    {
        QVERIFY(errorOf([] { Tokenizer::makeWordLevel({"two words"}, {}); }).contains("two words"));
        QVERIFY(!errorOf([] { Tokenizer::makeWordLevel({"19."}, {}); }).isEmpty());
    }

    void wordLevelFromJson()
    {
        const std::string json = R"({"model": {"type": "WordLevel", "unk_token": "[UNK]",
            "vocab": {"[UNK]": 0, "hello": 1, ",": 2, "world": 3, "!": 4, "12": 5, "3": 6}},
            "pre_tokenizer": {"type": "Whitespace"}, "decoder": null})";
        const Tokenizer t = Tokenizer::fromJson(json);
        // Whitespace splits \w+ and runs of other non-space characters.
        QCOMPARE(t.encode("hello, world!"), (Ids{1, 2, 3, 4}));
        QCOMPARE(t.encode("hello moon"), (Ids{1, 0}));
        // No decoder: tokens joined by single spaces, as the reference library does.
        QCOMPARE(t.decode({1, 2, 3, 4}), std::string("hello , world !"));

        const std::string digits = R"({"model": {"type": "WordLevel", "unk_token": "[UNK]",
            "vocab": {"[UNK]": 0, "1": 1, "2": 2, "12": 3, "ab": 4}},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": true}]}})";
        // "ab12" -> "ab" "1" "2"; " 12" -> "1" "2".
        QCOMPARE(Tokenizer::fromJson(digits).encode("ab12 12"), (Ids{4, 1, 2, 1, 2}));
    }

    void bpeMergesInBothSpellings()
    {
        // "abcab" is one piece: a b c a b. Rank 0 merges "a b" at both places -> ab c ab; rank 1
        // merges "ab c" -> abc ab = [4, 3].
        const Ids expected{4, 3};
        QCOMPARE(Tokenizer::fromJson(bpeJson(R"(["a b", "ab c"])", "")).encode("abcab"), expected);
        QCOMPARE(Tokenizer::fromJson(bpeJson(R"([["a", "b"], ["ab", "c"]])", "")).encode("abcab"),
                 expected);
        // Lower rank first, not left first: with "b c" before "a b", "abc" -> a bc = [0, 5].
        QCOMPARE(Tokenizer::fromJson(bpeJson(R"(["b c", "a b"])", "")).encode("abc"), (Ids{0, 5}));
    }

    void bpeUnknownsAndByteFallback()
    {
        // 'x' is not in the vocab: dropped without unk_token, <unk> with it, fused when asked.
        QCOMPARE(Tokenizer::fromJson(bpeJson("[]", "")).encode("axxb"), (Ids{0, 1}));
        QCOMPARE(Tokenizer::fromJson(bpeJson("[]", R"(, "unk_token": "<unk>")")).encode("axxb"),
                 (Ids{0, 6, 6, 1}));
        QCOMPARE(Tokenizer::fromJson(bpeJson("[]", R"(, "unk_token": "<unk>", "fuse_unk": true)"))
                     .encode("axxb"),
                 (Ids{0, 6, 1}));
        // 'A' (0x41) and 'B' (0x42) fall back to their byte tokens 7 and 8.
        const Tokenizer t = Tokenizer::fromJson(
            bpeJson("[]", R"(, "unk_token": "<unk>", "byte_fallback": true)"));
        QCOMPARE(t.encode("aAB"), (Ids{0, 7, 8}));
    }

    void bpeIgnoreMerges()
    {
        // "abc" is in the vocab (4) but no merge path reaches it from a b c with only "b c".
        QCOMPARE(Tokenizer::fromJson(bpeJson(R"(["b c"])", "")).encode("abc"), (Ids{0, 5}));
        QCOMPARE(Tokenizer::fromJson(bpeJson(R"(["b c"])", R"(, "ignore_merges": true)"))
                     .encode("abc"),
                 (Ids{4}));
    }

    void unsupportedComponentsNameTheKeyPath()
    {
        const auto model = R"("model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"})";
        QCOMPARE(errorOf([] {
                     Tokenizer::fromJson(R"({"model": {"type": "Unigram", "vocab": []}})",
                                         "x.json");
                 }),
                 QString("x.json: model.type 'Unigram' is not supported"));
        QCOMPARE(errorOf([&] {
                     Tokenizer::fromJson(std::string("{") + model
                                         + R"(, "normalizer": {"type": "NFKC"}})");
                 }),
                 QString("tokenizer.json: normalizer.type 'NFKC' is not supported"));
        const QString regex = errorOf([&] {
            Tokenizer::fromJson(std::string("{") + model + R"(, "pre_tokenizer": {"type":
                "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\d+"}}]}})");
        });
        QVERIFY2(regex.startsWith("tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex"),
                 qPrintable(regex));
        QVERIFY(errorOf([] { Tokenizer::fromJson("{not json"); }).contains("not valid JSON"));
        QVERIFY(errorOf([] { Tokenizer::fromJson(bpeJson(R"(["a x"])", "")); })
                    .startsWith("tokenizer.json: model.merges[0]"));
    }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "tst_tokenizer.moc"
