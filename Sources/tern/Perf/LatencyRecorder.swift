import Histogram
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Latencies in microseconds in an HDR histogram, safe to record from completion callbacks.
final class LatencyRecorder: Sendable {
    private let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three))

    /// Monotonic nanoseconds (CLOCK_MONOTONIC), cheap enough to read per record.
    static func nowNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Records the time since `startNanoseconds`.
    func record(since startNanoseconds: UInt64) {
        let now = Self.nowNanoseconds()
        let micros = now > startNanoseconds ? (now - startNanoseconds) / 1000 : 0
        histogram.withLock { _ = $0.record(min(micros, 600_000_000)) }
    }

    /// p50, p95, p99, p99.9 and max, in milliseconds.
    var summary: LatencySummary {
        histogram.withLock { h in
            func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
            return LatencySummary(
                count: h.totalCount, p50: ms(h.valueAtPercentile(50)), p95: ms(h.valueAtPercentile(95)),
                p99: ms(h.valueAtPercentile(99)), p999: ms(h.valueAtPercentile(99.9)), max: ms(h.maxRecorded))
        }
    }
}

/// Latency percentiles in milliseconds.
struct LatencySummary {
    var count: UInt64
    var p50: Double
    var p95: Double
    var p99: Double
    var p999: Double
    var max: Double
}
