#include "parallel_probe.h"

#include <ATen/Parallel.h>

namespace parallelprobe {

void setThreads(int threads) { at::set_num_threads(threads); }

} // namespace parallelprobe
