import CoreMetrics
import Synchronization

/// Bytes and records produced to and fetched from one topic (`topic` label), counted once per
/// partition of a request, never per record.
final class TopicMetrics: Sendable {
    private let bytesIn: Counter
    private let recordsIn: Counter
    private let bytesOut: Counter
    private let recordsOut: Counter

    init(topic: String) {
        let dimensions = [("topic", topic)]
        bytesIn = Counter(label: "tern_topic_bytes_in_total", dimensions: dimensions)
        recordsIn = Counter(label: "tern_topic_records_in_total", dimensions: dimensions)
        bytesOut = Counter(label: "tern_topic_bytes_out_total", dimensions: dimensions)
        recordsOut = Counter(label: "tern_topic_records_out_total", dimensions: dimensions)
    }

    /// A partition's batches were appended.
    func produced(bytes: Int, records: Int) {
        bytesIn.increment(by: bytes)
        recordsIn.increment(by: records)
    }

    /// A fetch response carries this much of the topic.
    func fetched(bytes: Int, records: Int) {
        bytesOut.increment(by: bytes)
        recordsOut.increment(by: records)
    }

    fileprivate func destroy() {
        bytesIn.destroy()
        recordsIn.destroy()
        bytesOut.destroy()
        recordsOut.destroy()
    }
}

/// The ``TopicMetrics`` of every topic that has seen traffic. Only existing topics get an entry
/// (callers look the topic up first), and a deleted topic's series are removed.
final class TopicMetricsTable: Sendable {
    private let table: Mutex<[String: TopicMetrics]> = Mutex([:])

    /// The metrics of `topic`, made on first use.
    func callAsFunction(_ topic: String) -> TopicMetrics {
        table.withLock { table in
            if let metrics = table[topic] { return metrics }
            let metrics = TopicMetrics(topic: topic)
            table[topic] = metrics
            return metrics
        }
    }

    /// Drops a deleted topic's series.
    func forget(_ topic: String) {
        table.withLock { $0.removeValue(forKey: topic) }?.destroy()
    }
}
