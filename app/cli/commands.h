// The quantbench-cli subcommands. Each takes the arguments after its name, prints to stdout,
// reports errors by throwing (qb::Error for bad input, UsageError for bad options) and returns
// the exit code.
#pragma once
#include <string>
#include <vector>

namespace qbcli {

int cmdRun(const std::vector<std::string> &args);
int cmdValidate(const std::vector<std::string> &args);
int cmdNodes(const std::vector<std::string> &args);
int cmdInfo(const std::vector<std::string> &args);
int cmdQuant(const std::vector<std::string> &args);
int cmdData(const std::vector<std::string> &args);
int cmdScore(const std::vector<std::string> &args);
int cmdRl(const std::vector<std::string> &args);
int cmdTokenize(const std::vector<std::string> &args);
int cmdChat(const std::vector<std::string> &args);
int cmdBench(const std::vector<std::string> &args);
int cmdExport(const std::vector<std::string> &args);
// export gptq|awq (format: the first argument; args: the rest), called by cmdExport.
int exportHfQuant(const std::string &format, const std::vector<std::string> &args);

} // namespace qbcli
