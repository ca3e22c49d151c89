"""Open-loop load-testing harness for genmedia's gRPC API (client side only: no Ray, no torch).

Arrivals follow a schedule fixed before the run (constant or Poisson at a rate that follows a
shape: ramp, step, spike, soak), independent of the responses; each request's latency is measured
from its *intended* send time, so queueing in the client or server cannot hide (no coordinated
omission). Modules, one concern each:

- `schedule`  arrival times from a shape and a process, bounded in count and time
- `workload`  request kinds, mixes and scenario files (loadtests/scenarios/*.yaml)
- `runner`    the asyncio open-loop scheduler over grpc.aio stubs
- `histogram` HDR latency histograms (the `hdrhistogram` package)
- `replicas`  Serve replica counts over time, from a short-lived Ray driver polling serve.status()
- `report`    the JSON report and the PNG chart
- `slo`       the SLO verdict and the exit code (0 pass, 1 SLO failed, 2 harness/setup error)
- `capacity`  the search for the highest rate at which the SLO holds
- `__main__`  the CLI: `python -m loadtests.harness run|capacity ...`
"""

EXIT_PASS = 0
EXIT_SLO_FAILED = 1
EXIT_ERROR = 2
