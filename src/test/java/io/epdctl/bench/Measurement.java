package io.epdctl.bench;

/**
 * One measured cell of a benchmark: completed requests and failed ones over {@code seconds}, latency
 * percentiles, and (for a proxy) its CPU per request, the kernel's part of it, and RSS at the end; NaN where
 * not measured.
 */
record Measurement(long requests, long errors, double seconds, double p50Millis, double p99Millis,
        double cpuMillisPerRequest, double kernelMillisPerRequest, double rssMiB) {
    double perSecond() {
        return requests / seconds;
    }

    Measurement withUsage(ProcessUsage.CpuTime cpu, double rssMiB) {
        return new Measurement(requests, errors, seconds, p50Millis, p99Millis,
                requests == 0 ? Double.NaN : cpu.totalMillis() / requests,
                requests == 0 ? Double.NaN : cpu.kernelMillis() / requests, rssMiB);
    }
}
