// Process-wide kernel settings that change results, std-only so that cache keys (core/pipeline)
// can include them without seeing torch. Thread safety: atomic flags.
#pragma once
#include <optional>
#include <string>

namespace qb {

// Whether quantized linears round their activations to int8 per block of 32 and multiply them
// with the integer codes (kernels/fused_linear_q8.h: llama.cpp's q8_0 scheme, AVX-512 VNNI) for
// the formats that path supports (INT8 rows, INT4/INT8 groups with `in` a multiple of 64), at
// every row count (one evaluation never mixes two arithmetics).
// It changes results (the activations are rounded), so it is off unless the environment
// variable QB_ACT_Q8 is "1" or a benchmark turns it on.
bool int8ActivationKernelsEnabled();
void setInt8ActivationKernels(bool enabled);

// Whether dense float32 linears at inference multiply in bfloat16 (kernels/gemm_bf16.h: both
// operands rounded to bf16, products summed in float32; twice the products a cycle and half the
// weight bytes of float32), where the CPU has AVX-512 BF16 and the AVX-512 path is active
// (bf16ComputeActive). It changes results (each product moves by up to ~2^-8 relatively), so it
// is off unless the environment variable QB_COMPUTE_BF16 is "1" or a benchmark turns it on.
// Training (anything recording a graph) and quantized linears keep their own arithmetic.
bool bf16ComputeEnabled();
void setBf16Compute(bool enabled);
// Whether this CPU and kernel path run it; active = enabled, supported and the fused kernels on
// (QB_FUSED).
bool bf16ComputeSupported();
bool bf16ComputeActive();

// "" with the default arithmetic, else a tag naming what differs ("act-q8", "bf16", or both
// joined by "+"): node and unit cache keys include it, so results computed one way are never
// served for the other.
std::string resultArithmeticTag();
// The tag these switches would give (unset: the current setting), changing nothing: what an
// experiment's `arithmetic:` will run with (the GUI's planned keys, while a run may hold the
// switches).
std::string resultArithmeticTag(std::optional<bool> int8Activations, std::optional<bool> bf16);
// What the environment asks for (QB_ACT_Q8, QB_COMPUTE_BF16 read at start-up): the process
// default an experiment without `arithmetic:` runs with, whatever a run holds the switches at.
bool int8ActivationKernelsByEnvironment();
bool bf16ComputeByEnvironment();

// Sets the switches that are given for its lifetime and then restores both: a run computes with
// its experiment's `arithmetic:` (executor.cpp). The switches are process-wide, so one run at a
// time.
class ArithmeticScope
{
public:
    ArithmeticScope(std::optional<bool> int8Activations, std::optional<bool> bf16);
    ~ArithmeticScope();
    ArithmeticScope(const ArithmeticScope &) = delete;
    ArithmeticScope &operator=(const ArithmeticScope &) = delete;

private:
    bool m_int8Activations, m_bf16;
};

} // namespace qb
