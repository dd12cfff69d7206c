import TernWire

/// The consumer's half of a fetch session with one broker (Fetch v1, as Kafka's KIP-227).
///
/// The first request lists every partition and asks for a session; later ones list only the
/// partitions whose fetch offset or byte limit changed, plus those no longer fetched
/// (`forgottenTopics`). Any failure sends the next request in full again, replacing the session.
struct FetchSession: Sendable {
    /// The broker's session id; 0 while there is none.
    private(set) var id: Int32 = 0
    /// The epoch of the next incremental request; ``FetchRequest/initialEpoch`` when the next
    /// request must be full.
    private(set) var nextEpoch: Int32 = FetchRequest.initialEpoch
    /// What the broker's session holds for each partition.
    private(set) var sent: [TopicPartition: FetchRequest.Partition] = [:]

    /// The request for `partitions` (every partition to fetch from this broker now, in order).
    func request(
        for partitions: [(TopicPartition, FetchRequest.Partition)], maxWaitMs: Int32, minBytes: Int32, maxBytes: Int32
    ) -> FetchRequest {
        let full = id == 0 || nextEpoch == FetchRequest.initialEpoch
        var named: [(topic: String, partition: FetchRequest.Partition)] = []
        var stillWanted = 0
        for (tp, partition) in partitions {
            if !full, let previous = sent[tp] {
                stillWanted += 1
                if previous == partition { continue }
            }
            named.append((tp.topic, partition))
        }
        var forgotten: [FetchRequest.ForgottenTopic] = []
        // Something the session holds is no longer wanted only when fewer of its partitions were
        // named than it has (the common case, nothing forgotten, costs no set or sort).
        if !full, stillWanted < sent.count {
            let wanted = Set(partitions.map(\.0))
            forgotten = FetchRequest.ForgottenTopic.grouped(sent.keys.sorted().lazy.filter { !wanted.contains($0) }.map { ($0.topic, $0.partition) })
        }
        let topics = FetchRequest.Topic.grouped(named)
        return FetchRequest(
            maxWaitMs: maxWaitMs, minBytes: minBytes, maxBytes: maxBytes, topics: topics, sessionId: id,
            sessionEpoch: full ? FetchRequest.initialEpoch : nextEpoch, forgottenTopics: forgotten)
    }

    /// The broker answered `request` with `sessionId`.
    mutating func succeeded(_ request: FetchRequest, sessionId: Int32) {
        if request.sessionEpoch == FetchRequest.initialEpoch {
            sent = [:]
            id = sessionId
            nextEpoch = sessionId == 0 ? FetchRequest.initialEpoch : 1
        } else {
            nextEpoch = nextEpoch == Int32.max ? 1 : nextEpoch + 1
            for topic in request.forgottenTopics {
                for partition in topic.partitions { sent[TopicPartition(topic: topic.name, partition: partition)] = nil }
            }
        }
        guard id != 0 else { return }
        for topic in request.topics {
            for partition in topic.partitions { sent[TopicPartition(topic: topic.name, partition: partition.partition)] = partition }
        }
    }

    /// The request failed: the next one is full (and replaces the session on the broker).
    mutating func failed() {
        nextEpoch = FetchRequest.initialEpoch
        sent = [:]
    }
}
