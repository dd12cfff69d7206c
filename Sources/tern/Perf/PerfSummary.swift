/// Final figures of a perf run, printed as one line or one JSON object.
struct PerfSummary {
    var mode: String
    var records: Int
    var bytes: Int
    var seconds: Double
    var failed: Int
    var latency: LatencySummary?

    func print(json: Bool) {
        let recordsPerSecond = Double(records) / max(seconds, 1e-9)
        let megabytesPerSecond = Double(bytes) / max(seconds, 1e-9) / 1_000_000
        if json {
            var fields = [
                "\"mode\":\"\(mode)\"", "\"records\":\(records)", "\"failed\":\(failed)",
                "\"seconds\":\(Self.rounded(seconds, 3))", "\"records_per_second\":\(Int(recordsPerSecond))",
                "\"mb_per_second\":\(Self.rounded(megabytesPerSecond, 2))",
            ]
            if let latency {
                fields += [
                    "\"latency_ms\":{\"p50\":\(Self.rounded(latency.p50, 3)),\"p95\":\(Self.rounded(latency.p95, 3)),"
                        + "\"p99\":\(Self.rounded(latency.p99, 3)),\"p99_9\":\(Self.rounded(latency.p999, 3)),"
                        + "\"max\":\(Self.rounded(latency.max, 3))}"
                ]
            }
            Swift.print("{" + fields.joined(separator: ",") + "}")
        } else {
            var line =
                "\(mode): \(records) records in \(Self.rounded(seconds, 3)) s: \(Int(recordsPerSecond)) records/s, "
                + "\(Self.rounded(megabytesPerSecond, 2)) MB/s, \(failed) failed"
            if let latency {
                line +=
                    "; latency ms p50 \(Self.rounded(latency.p50, 3)) p95 \(Self.rounded(latency.p95, 3)) "
                    + "p99 \(Self.rounded(latency.p99, 3)) p99.9 \(Self.rounded(latency.p999, 3)) max \(Self.rounded(latency.max, 3))"
            }
            Swift.print(line)
        }
    }

    static func rounded(_ value: Double, _ places: Int) -> String {
        var factor = 1.0
        for _ in 0..<places { factor *= 10 }
        return "\((value * factor).rounded() / factor)"
    }
}
