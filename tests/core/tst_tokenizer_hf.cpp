// The tokenizer on the real Hugging Face files in shared/data/tokenizers (skipped when absent).
// Expected ids are published values (GPT-2 "Hello world" -> [15496, 995], " the" -> 262,
// <|endoftext|> = 50256, Llama 3 <|begin_of_text|> = 128000) or were produced by the reference
// implementation, the Hugging Face tokenizers library (Node binding 0.23.2, encode with
// addSpecialTokens false/true), for the strings shown; BERT's ids and decodes come from that same
// binding (tokenizers 0.23.2 from npm, encode with addSpecialTokens true, decode with
// skipSpecialTokens false/true); on the 2,638 GSM8K test texts plus 18 multilingual ones, ids and
// decodes of quantbench-cli tokenize were all equal to that binding's (a one-off check). Properties: decode(encode(x)) == x on GSM8K
// test questions and answers, every id below vocabSize, save/reload keeps ids, and concurrent
// encoding from several threads agrees with serial encoding.
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <thread>

using qb::Tokenizer;
using Ids = std::vector<std::int32_t>;
namespace fs = std::filesystem;

namespace {

fs::path tokenizerPath(const std::string &name)
{
    const fs::path data = qbtest::sharedDataDir();
    if (data.empty())
        return {};
    const fs::path path = data / "tokenizers" / name / "tokenizer.json";
    return fs::exists(path) ? path : fs::path();
}

// Loaded once per file: the larger vocabularies take a moment to parse.
const Tokenizer &load(const std::string &name)
{
    static std::map<std::string, Tokenizer> cache;
    auto it = cache.find(name);
    if (it == cache.end())
        it = cache.emplace(name, Tokenizer::fromFile(tokenizerPath(name))).first;
    return it->second;
}

std::vector<std::string> gsm8kTexts(int records)
{
    std::vector<std::string> out;
    const fs::path path = qbtest::sharedDataDir() / "gsm8k" / "test.jsonl";
    std::ifstream in(path);
    std::string line;
    while (static_cast<int>(out.size()) < 2 * records && std::getline(in, line)) {
        const auto j = nlohmann::json::parse(line);
        out.push_back(j.at("question").get<std::string>());
        out.push_back(j.at("answer").get<std::string>());
    }
    return out;
}

} // namespace

#define REQUIRE_TOKENIZER(name)                                                                    \
    if (tokenizerPath(name).empty())                                                               \
        QSKIP("shared/data/tokenizers/" name " is absent");

class TestTokenizerHf : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void bertWordPiece()
    {
        REQUIRE_TOKENIZER("bert");
        const Tokenizer &t = load("bert");
        QCOMPARE(QString::fromStdString(t.modelType()), QString("WordPiece"));
        // By hand from the vocab: "hello" is one entry, "##ization" continues "token".
        QCOMPARE(t.encode("Hello"), (Ids{*t.tokenId("hello")}));
        QCOMPARE(t.encode("tokenization"), (Ids{*t.tokenId("token"), *t.tokenId("##ization")}));
        struct Case
        {
            const char *text;
            Ids ids; // with [CLS] ... [SEP]
            const char *decoded;
            const char *decodedSkip;
        };
        const Case cases[] = {
            {"H\u00e9llo, W\u00f6rld!", {101, 7592, 1010, 2088, 999, 102},
             "[CLS] hello, world! [SEP]", "hello, world!"},
            {"The na\u00efve caf\u00e9's cr\u00e8me br\u00fbl\u00e9e costs $4.50 (approx.)",
             {101, 1996, 15743, 7668, 1005, 1055, 13675, 21382, 7987, 9307, 2063, 5366, 1002, 1018,
              1012, 2753, 1006, 22480, 1012, 1007, 102},
             "[CLS] the naive cafe ' s creme brulee costs $ 4. 50 ( approx. ) [SEP]",
             "the naive cafe ' s creme brulee costs $ 4. 50 ( approx. )"},
            {"Tokenization isn't unbelievably hard; it's antidisestablishmentarianism.",
             {101, 19204, 3989, 3475, 1005, 1056, 4895, 8671, 2666, 3567, 6321, 2524, 1025, 2009,
              1005, 1055, 3424, 10521, 4355, 7875, 13602, 3672, 12199, 2964, 1012, 102},
             "[CLS] tokenization isn ' t unbelievably hard ; it ' s antidisestablishmentarianism. "
             "[SEP]",
             "tokenization isn ' t unbelievably hard ; it ' s antidisestablishmentarianism."},
            {"\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8 and \u6771\u4eac",
             {101, 1855, 100, 1781, 1755, 1811, 1820, 100, 1998, 1879, 1755, 102},
             "[CLS] \u6211 [UNK] \u5317 \u4eac \u5929 \u5b89 [UNK] and \u6771 \u4eac [SEP]",
             "\u6211 \u5317 \u4eac \u5929 \u5b89 and \u6771 \u4eac"},
            // 135 characters: over max_input_chars_per_word (100), so one [UNK].
            {"pneumonoultramicroscopicsilicovolcanoconiosispneumonoultramicroscopicsilicovolcano"
             "coniosispneumonoultramicroscopicsilicovolcanoconiosis ok",
             {101, 100, 7929, 102}, "[CLS] [UNK] ok [SEP]", "ok"},
            {"\u00c0\u00c9\u00ce\u00d5\u00dc \u0391\u0392\u0393 \u041f\u0440\u0438\u0432\u0435"
             "\u0442 \u2014 \u00abquotes\u00bb \u00bfqu\u00e9? x\u00a0y\tz\u200bw",
             {101, 29347, 3695, 2226, 1155, 29720, 29721, 1194, 16856, 10325, 25529, 15290, 22919,
              1517, 1077, 16614, 1090, 1094, 10861, 1029, 1060, 1061, 1062, 2860, 102},
             "[CLS] aeiou \u03b1\u03b2\u03b3 \u043f\u0440\u0438\u0432\u0435\u0442 \u2014 \u00ab "
             "quotes \u00bb \u00bf que? x y zw [SEP]",
             "aeiou \u03b1\u03b2\u03b3 \u043f\u0440\u0438\u0432\u0435\u0442 \u2014 \u00ab quotes "
             "\u00bb \u00bf que? x y zw"},
            {"unk: \u2603 \u2699 \U0001d518 [CLS] [MASK] done",
             {101, 4895, 2243, 1024, 100, 100, 100, 101, 103, 2589, 102},
             "[CLS] unk : [UNK] [UNK] [UNK] [CLS] [MASK] done [SEP]", "unk : done"},
            {"Vietnamese: Ti\u1ebfng Vi\u1ec7t", {101, 9101, 1024, 5495, 3070, 19710, 102},
             "[CLS] vietnamese : tieng viet [SEP]", "vietnamese : tieng viet"},
            // Hindi's virama (Mn) is stripped with the accents; Hangul syllables become jamo.
            {"\u0939\u093f\u0928\u094d\u0926\u0940 \u00c5 \u2126",
             {101, 1339, 29877, 29863, 29861, 29878, 1037, 1179, 102},
             "[CLS] \u0939\u093f\u0928\u0926\u0940 a \u03c9 [SEP]",
             "\u0939\u093f\u0928\u0926\u0940 a \u03c9"},
            {"\ud55c\uad6d\uc5b4",
             {101, 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 102},
             "[CLS] \u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165 [SEP]",
             "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"},
        };
        for (const Case &c : cases) {
            QCOMPARE(t.encode(c.text, true), c.ids);
            const Ids inner(c.ids.begin() + 1, c.ids.end() - 1);
            QCOMPARE(t.encode(c.text, false), inner);
            QCOMPARE(QString::fromStdString(t.decode(c.ids)), QString::fromUtf8(c.decoded));
            QCOMPARE(QString::fromStdString(t.decode(c.ids, true)),
                     QString::fromUtf8(c.decodedSkip));
        }
    }

    void gpt2()
    {
        REQUIRE_TOKENIZER("gpt2");
        const Tokenizer &t = load("gpt2");
        QCOMPARE(t.encode("Hello world"), (Ids{15496, 995}));
        QCOMPARE(t.encode(" the"), (Ids{262}));
        QCOMPARE(t.encode("<|endoftext|>"), (Ids{50256}));
        QCOMPARE(t.encode("a<|endoftext|>b"), (Ids{64, 50256, 65}));
        QCOMPARE(t.encode("Hello world, it's 12345 dollars!  Ok"),
                 (Ids{15496, 995, 11, 340, 338, 17031, 2231, 5054, 0, 220, 6762}));
        QCOMPARE(t.encode("tabs\tand\nnewlines\n\n\nx"),
                 (Ids{8658, 82, 197, 392, 198, 3605, 6615, 628, 198, 87}));
        QCOMPARE(t.encode("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC"),
                 (Ids{66, 1878, 2634, 10545, 245, 98, 17312, 105}));
        QCOMPARE(t.vocabSize(), 50257);
        QCOMPARE(t.tokenText(262), std::string("\xC4\xA0the")); // "Ġthe"
        QCOMPARE(t.tokenId("\xC4\xA0the"), std::optional<std::int32_t>(262));
        QVERIFY(t.isSpecial(50256));
        QCOMPARE(t.decode({15496, 50256, 995}, true), std::string("Hello world"));
        QCOMPARE(t.decode({15496, 999999, -1, 995}), std::string("Hello world"));
        QCOMPARE(t.modelType(), std::string("BPE"));
    }

    void llama3()
    {
        REQUIRE_TOKENIZER("llama3");
        const Tokenizer &t = load("llama3");
        QCOMPARE(t.encode("<|begin_of_text|>Hi"), (Ids{128000, 13347}));
        QCOMPARE(t.encode("Hello world, it's 12345 dollars!  Ok"),
                 (Ids{9906, 1917, 11, 433, 596, 220, 4513, 1774, 11441, 0, 220, 7777}));
        QCOMPARE(t.encode("I'M HE'S we'RE"), (Ids{40, 28703, 11947, 13575, 584, 95253}));
        QCOMPARE(t.encode("x\n\n  y  "), (Ids{87, 271, 220, 379, 256}));
        QCOMPARE(t.encode("1234567"), (Ids{4513, 10961, 22}));
        QCOMPARE(t.vocabSize(), 128256);
        QCOMPARE(t.bosId(), std::optional<std::int32_t>(128000));
        QCOMPARE(t.eosId(), t.tokenId("<|eot_id|>"));
        QVERIFY(!t.chatTemplate().empty());
    }

    void qwen()
    {
        for (const char *name : {"qwen2", "qwen3"}) {
            if (tokenizerPath(name).empty())
                QSKIP("shared/data/tokenizers/qwen2 or qwen3 is absent");
            const Tokenizer &t = load(name);
            QCOMPARE(t.encode("Hello world, it's 12345 dollars!  Ok"),
                     (Ids{9707, 1879, 11, 432, 594, 220, 16, 17, 18, 19, 20, 11192, 0, 220, 7622}));
            QCOMPARE(t.encode("<|im_start|>user\nHi<|im_end|>"),
                     (Ids{151644, 872, 198, 13048, 151645}));
            // NFC composes e + U+0301 into U+00E9, a single byte-level token.
            QCOMPARE(t.encode("e\xCC\x81"), (Ids{963}));
            QCOMPARE(t.eosId(), std::optional<std::int32_t>(151645));
            QCOMPARE(t.padId(), std::optional<std::int32_t>(151643));
            QVERIFY(!t.bosId());
            QVERIFY(!t.chatTemplate().empty());
        }
        QCOMPARE(load("qwen2").vocabSize(), 151665);
        QCOMPARE(load("qwen3").vocabSize(), 151669);
    }

    void smollm2()
    {
        REQUIRE_TOKENIZER("smollm2");
        const Tokenizer &t = load("smollm2");
        // Digits are split one by one before the GPT-2 regex.
        QCOMPARE(t.encode("Hello world, it's 12345 dollars!  Ok"),
                 (Ids{19556, 905, 28, 357, 506, 216, 33, 34, 35, 36, 37, 8358, 17, 216, 16765}));
        QCOMPARE(t.encode("<|im_start|>x"), (Ids{1, 104}));
        QVERIFY(!t.chatTemplate().empty()); // from chat_template.jinja
    }

    void llama2()
    {
        REQUIRE_TOKENIZER("llama2");
        const Tokenizer &t = load("llama2");
        // The normalizer prepends U+2581 and the vocab holds "▁Hello" whole.
        QCOMPARE(t.tokenId("\xE2\x96\x81Hello"), std::optional<std::int32_t>(15043));
        QCOMPARE(t.encode("Hello"), (Ids{15043}));
        QCOMPARE(t.encode("Hello", true), (Ids{1, 15043}));
        QCOMPARE(t.bosId(), std::optional<std::int32_t>(1));
        QCOMPARE(t.eosId(), std::optional<std::int32_t>(2));
        QCOMPARE(t.unkId(), std::optional<std::int32_t>(0));
        QCOMPARE(t.encode("Hello world, it's 12345 dollars!  Ok"),
                 (Ids{15043, 3186, 29892, 372, 29915, 29879, 29871, 29896, 29906, 29941, 29946,
                      29945, 17208, 29991, 29871, 3674}));
        // U+1F389 is not in the vocab: its four bytes come as <0xF0> <0x9F> <0x8E> <0x89>.
        QCOMPARE(t.encode("\xF0\x9F\x8E\x89 ok"), (Ids{29871, 243, 162, 145, 140, 3431}));
        QCOMPARE(t.decode({29871, 243, 162, 145, 140, 3431}), std::string("\xF0\x9F\x8E\x89 ok"));
        QCOMPARE(t.encode(" Hello"), (Ids{29871, 15043}));
        QCOMPARE(t.encode("<s>Hello"), (Ids{1, 15043}));
    }

    void mistralMetaspaceAndLegacy()
    {
        REQUIRE_TOKENIZER("mistral");
        REQUIRE_TOKENIZER("mistral_legacy");
        const Tokenizer &t = load("mistral");
        const Tokenizer &legacy = load("mistral_legacy");
        QCOMPARE(t.encode("Hello world", true), (Ids{1, 22557, 1526}));
        QCOMPARE(legacy.encode("Hello world", true), (Ids{1, 22557, 1526}));
        // Metaspace prepends only at the very start and not before an existing space; the legacy
        // Prepend normalizer prepends to every stretch of text.
        QCOMPARE(t.encode(" Hello"), (Ids{22557}));
        QCOMPARE(legacy.encode(" Hello"), (Ids{28705, 22557}));
        QCOMPARE(t.encode("<s>Hello"), (Ids{1, 16230}));
        QCOMPARE(legacy.encode("<s>Hello"), (Ids{1, 22557}));
        QCOMPARE(t.encode("Hi <s> there"), (Ids{15359, 28705, 1, 736}));
        QCOMPARE(legacy.encode("Hi <s> there"), (Ids{15359, 28705, 1, 28705, 736}));
        QCOMPARE(t.encode("\xF0\x9F\x8E\x89 ok"), (Ids{28705, 31862, 3614}));
    }

    void roundTripsGsm8k()
    {
        if (qbtest::sharedDataDir().empty()
            || !fs::exists(qbtest::sharedDataDir() / "gsm8k" / "test.jsonl"))
            QSKIP("shared/data/gsm8k/test.jsonl is absent");
        const std::vector<std::string> texts = gsm8kTexts(300);
        QCOMPARE(texts.size(), std::size_t(600));
        for (const char *name :
             {"gpt2", "llama3", "qwen2", "qwen3", "smollm2", "llama2", "mistral"}) {
            if (tokenizerPath(name).empty())
                continue;
            const Tokenizer &t = load(name);
            for (const std::string &text : texts) {
                const Ids ids = t.encode(text);
                for (const std::int32_t id : ids)
                    QVERIFY(id >= 0 && id < t.vocabSize());
                QVERIFY2(t.decode(ids) == text, (std::string(name) + ": " + text).c_str());
            }
        }
    }

    void saveAndReloadKeepsIds()
    {
        REQUIRE_TOKENIZER("llama2");
        const auto dir = qbtest::makeTempDir("tokenizer_hf");
        load("llama2").save(dir / "tokenizer.json");
        const Tokenizer back = Tokenizer::fromFile(dir / "tokenizer.json");
        for (const std::string text :
             {"Hello world, it's 12345 dollars!  Ok", " Hello", "\xF0\x9F\x8E\x89"})
            QCOMPARE(back.encode(text, true), load("llama2").encode(text, true));
        QCOMPARE(back.vocabSize(), 32000);
    }

    void saveAndReloadKeepsWordPiece()
    {
        REQUIRE_TOKENIZER("bert");
        const auto dir = qbtest::makeTempDir("tokenizer_hf");
        load("bert").save(dir / "tokenizer.json");
        const Tokenizer back = Tokenizer::fromFile(dir / "tokenizer.json");
        QCOMPARE(QString::fromStdString(back.modelType()), QString("WordPiece"));
        for (const std::string text :
             {"H\u00e9llo, W\u00f6rld!", "unbelievably antidisestablishmentarianism",
              "\u6211\u7231 [MASK] \u2603"}) {
            const Ids ids = load("bert").encode(text, true);
            QCOMPARE(back.encode(text, true), ids);
            QCOMPARE(back.decode(ids), load("bert").decode(ids));
        }
        QCOMPARE(back.vocabSize(), 30522);
    }

    void concurrentEncodingAgrees()
    {
        REQUIRE_TOKENIZER("gpt2");
        if (!fs::exists(qbtest::sharedDataDir() / "gsm8k" / "test.jsonl"))
            QSKIP("shared/data/gsm8k/test.jsonl is absent");
        // A fresh tokenizer, so that the threads race on filling the word cache.
        const Tokenizer t = Tokenizer::fromFile(tokenizerPath("gpt2"));
        const std::vector<std::string> texts = gsm8kTexts(100);
        std::vector<std::vector<Ids>> results(4, std::vector<Ids>(texts.size()));
        std::vector<std::thread> threads;
        for (std::size_t k = 0; k < results.size(); ++k) {
            threads.emplace_back([&, k] {
                for (std::size_t i = 0; i < texts.size(); ++i)
                    results[k][i] = t.encode(texts[(i + k * 37) % texts.size()]);
            });
        }
        for (auto &th : threads)
            th.join();
        for (std::size_t k = 0; k < results.size(); ++k) {
            for (std::size_t i = 0; i < texts.size(); ++i)
                QCOMPARE(results[k][i], load("gpt2").encode(texts[(i + k * 37) % texts.size()]));
        }
    }
};

QTEST_APPLESS_MAIN(TestTokenizerHf)
#include "tst_tokenizer_hf.moc"
