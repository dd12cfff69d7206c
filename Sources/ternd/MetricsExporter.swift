import CoreMetrics
import Prometheus

/// The process's metrics backend: swift-metrics bootstrapped with swift-prometheus, rendered in
/// the Prometheus text format for `GET /metrics` with a `# HELP` line for each metric Tern
/// defines (docs/operations.md lists them).
struct MetricsExporter: Sendable {
    let registry: PrometheusCollectorRegistry

    /// Request and flush latencies are mostly well under the library's 5 ms first bucket.
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// Creates the registry and makes it the process's metrics backend (once, before any metric
    /// is made: a metric made earlier would record nowhere).
    static func bootstrap() -> MetricsExporter {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
        return MetricsExporter(registry: registry)
    }

    /// The registry in the text exposition format, with `# HELP` lines added.
    func render() -> [UInt8] {
        let text = registry.emitToBuffer()
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 4096)
        let typePrefix = Array("# TYPE ".utf8)
        var lineStart = 0
        for i in text.indices where text[i] == UInt8(ascii: "\n") {
            let line = text[lineStart..<i]
            if line.starts(with: typePrefix) {
                let rest = line.dropFirst(typePrefix.count)
                let name = String(decoding: rest.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                if let help = MetricHelp.text[name] {
                    out += Array("# HELP \(name) \(help)\n".utf8)
                }
            }
            out += text[lineStart...i]
            lineStart = i + 1
        }
        out += text[lineStart...]
        return out
    }
}
