#include "data/prompts.h"

#include "data/det_random.h"
#include "util/error.h"

#include <numeric>

namespace qb::data {

const char *promptFormatName(PromptFormat format)
{
    switch (format) {
    case PromptFormat::Gsm8k: return "gsm8k";
    case PromptFormat::Gsm8kCot: return "gsm8k_cot";
    case PromptFormat::Gsm8kDirect: return "gsm8k_direct";
    case PromptFormat::GpqaZeroShot: return "gpqa_zeroshot";
    case PromptFormat::GpqaCot: return "gpqa_cot_zeroshot";
    }
    return "";
}

PromptFormat promptFormatFromName(std::string_view name)
{
    for (PromptFormat f : {PromptFormat::Gsm8k, PromptFormat::Gsm8kCot, PromptFormat::Gsm8kDirect,
                           PromptFormat::GpqaZeroShot, PromptFormat::GpqaCot}) {
        if (name == promptFormatName(f))
            return f;
    }
    throw Error("unknown prompt format '" + std::string(name)
                + "' (expected gsm8k, gsm8k_cot, gsm8k_direct, gpqa_zeroshot or gpqa_cot_zeroshot)");
}

bool isGsmFormat(PromptFormat format)
{
    return format == PromptFormat::Gsm8k || format == PromptFormat::Gsm8kCot
        || format == PromptFormat::Gsm8kDirect;
}

std::string gsm8kPrompt(std::string_view question, const std::vector<GsmRecord> &shots)
{
    std::string out;
    for (const GsmRecord &shot : shots)
        out += "Question: " + shot.question + "\nAnswer: " + shot.solution + "\n\n";
    out += "Question: ";
    out += question;
    out += "\nAnswer:";
    return out;
}

std::string gsm8kDirectPrompt(std::string_view question)
{
    return gsm8kPrompt(question) + " ####";
}

std::string gsm8kCotPrompt(std::string_view question, const std::vector<CotExemplar> &shots)
{
    std::string out;
    for (const CotExemplar &shot : shots)
        out += "Q: " + shot.question + "\nA: " + shot.target + "\n\n";
    out += "Q: ";
    out += question;
    out += "\nA:";
    return out;
}

const std::vector<CotExemplar> &standardCotExemplars()
{
    // Wei et al., "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models" (2022),
    // the math word problem exemplars, as lm-eval's gsm8k_cot lists them.
    static const std::vector<CotExemplar> exemplars = {
        {"There are 15 trees in the grove. Grove workers will plant trees in the grove today. "
         "After they are done, there will be 21 trees. How many trees did the grove workers "
         "plant today?",
         "There are 15 trees originally. Then there were 21 trees after some more were planted. "
         "So there must have been 21 - 15 = 6. The answer is 6."},
        {"If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the "
         "parking lot?",
         "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5."},
        {"Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they "
         "have left in total?",
         "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = "
         "74. After eating 35, they had 74 - 35 = 39. The answer is 39."},
        {"Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How "
         "many lollipops did Jason give to Denny?",
         "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave "
         "Denny 20 - 12 = 8. The answer is 8."},
        {"Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many "
         "toys does he have now?",
         "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 "
         "more toys. 5 + 4 = 9. The answer is 9."},
        {"There were nine computers in the server room. Five more computers were installed each "
         "day, from monday to thursday. How many computers are now in the server room?",
         "There were originally 9 computers. For each of 4 days, 5 more computers were added. So "
         "5 * 4 = 20 computers were added. 9 + 20 is 29. The answer is 29."},
        {"Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 "
         "more. How many golf balls did he have at the end of wednesday?",
         "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. "
         "After losing 2 more, he had 35 - 2 = 33 golf balls. The answer is 33."},
        {"Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
         "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she "
         "has 23 - 15 dollars left. 23 - 15 is 8. The answer is 8."},
    };
    return exemplars;
}

std::string cotTarget(const GsmRecord &record)
{
    std::string text = record.solution;
    const auto hashes = text.rfind("####");
    if (hashes != std::string::npos)
        text.erase(hashes);
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.compare(i, 2, "<<") == 0) {
            const auto close = text.find(">>", i + 2);
            if (close != std::string::npos) {
                i = close + 2;
                continue;
            }
        }
        const char c = text[i++];
        if (c == '\n' || c == '\r') {
            if (!out.empty() && out.back() != ' ')
                out += ' ';
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    if (!out.empty())
        out += ' ';
    return out + "The answer is " + record.gold + ".";
}

CotExemplar toCotExemplar(const GsmRecord &record)
{
    return {record.question, cotTarget(record)};
}

std::string gpqaPrompt(const GpqaRecord &record, PromptFormat format)
{
    std::string out = "What is the correct answer to this question:" + record.question
        + "\nChoices:\n";
    for (int i = 0; i < 4; ++i)
        out += std::string("(") + char('A' + i) + ") " + record.choices[i] + "\n";
    if (format == PromptFormat::GpqaCot)
        return out + "Let's think step by step: ";
    if (format == PromptFormat::GpqaZeroShot)
        return out + "Answer:";
    throw Error(std::string("gpqaPrompt: '") + promptFormatName(format) + "' is not a GPQA format");
}

std::vector<std::string> gpqaChoiceContinuations()
{
    return {" (A)", " (B)", " (C)", " (D)"};
}

std::string gsmTarget(const GsmRecord &record, PromptFormat format)
{
    if (format == PromptFormat::Gsm8k)
        return " " + record.solution;
    if (format == PromptFormat::Gsm8kCot)
        return " " + cotTarget(record);
    if (format == PromptFormat::Gsm8kDirect)
        return " " + record.gold;
    throw Error(std::string("gsmTarget: '") + promptFormatName(format) + "' is not a GSM format");
}

std::string gpqaTarget(const GpqaRecord &record, PromptFormat format)
{
    const std::string letter = std::string("(") + record.goldLetter() + ")";
    if (format == PromptFormat::GpqaZeroShot)
        return " " + letter;
    if (format == PromptFormat::GpqaCot) {
        // The prompt already ends in a space, so the reasoning follows it directly.
        std::string out = record.explanation.empty() ? "" : record.explanation + " ";
        for (int i = 0; i <= record.goldIndex; ++i)
            out += std::string("(") + char('A' + i) + ") " + record.choices[i]
                + (i == record.goldIndex ? ": yes. " : ": no. ");
        return out + "The answer is " + letter + ".";
    }
    throw Error(std::string("gpqaTarget: '") + promptFormatName(format) + "' is not a GPQA format");
}

std::vector<std::string> stopSequences(PromptFormat format)
{
    switch (format) {
    case PromptFormat::Gsm8k: return {"Question:", "</s>", "<|im_end|>"};
    case PromptFormat::Gsm8kCot: return {"Q:", "</s>", "<|im_end|>"};
    case PromptFormat::Gsm8kDirect: return {"\n", "Question:", "</s>", "<|im_end|>"};
    case PromptFormat::GpqaZeroShot: return {"\n\n", "</s>", "<|im_end|>"};
    case PromptFormat::GpqaCot: return {"</s>"};
    }
    return {};
}

std::string applyStopSequences(std::string_view text, const std::vector<std::string> &stops)
{
    std::size_t cut = text.size();
    for (const std::string &stop : stops) {
        if (stop.empty())
            continue;
        const auto pos = text.find(stop);
        if (pos != std::string_view::npos && pos < cut)
            cut = pos;
    }
    return std::string(text.substr(0, cut));
}

std::vector<std::size_t> fewShotIndices(std::size_t poolSize, int k, std::uint64_t seed)
{
    const std::size_t want = std::min<std::size_t>(poolSize, k > 0 ? std::size_t(k) : 0);
    std::vector<std::size_t> pool(poolSize);
    std::iota(pool.begin(), pool.end(), std::size_t(0));
    DetRng rng(seed);
    // Partial Fisher-Yates from the front: position i gets a uniform pick from [i, poolSize).
    for (std::size_t i = 0; i < want; ++i) {
        const auto j = i + static_cast<std::size_t>(rng.below(poolSize - i));
        std::swap(pool[i], pool[j]);
    }
    pool.resize(want);
    return pool;
}

} // namespace qb::data
