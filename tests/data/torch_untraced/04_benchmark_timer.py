"""torch.utils.benchmark.Timer: time a statement and read the measurement."""

import torch
import torch.utils.benchmark as benchmark

torch.manual_seed(0)
x = torch.randn(64, 64)
timer = benchmark.Timer(stmt="x @ x", globals={"x": x}, num_threads=1, label="mm")
measurement = timer.timeit(20)
assert measurement.number_per_run == 20 and len(measurement.times) == 1
assert 0 < measurement.median < 1.0, measurement.median
assert "20 runs" in str(measurement) and measurement.task_spec.stmt == "x @ x"
print("OK benchmark_timer")
