import TernWire

/// What happened to one partition's batches in a produce request.
enum ProduceOutcome: Equatable, Sendable {
    /// Stored; the first record got `baseOffset`.
    case delivered(baseOffset: Int64)
    /// Failed in a way that may succeed later (connection, timeout, leadership change).
    case retriable(TernError)
    /// Failed for good: the records get this error.
    case failed(TernError)

    /// Maps a produce response (or the failure of the whole request) to an outcome per partition
    /// sent; a partition the response does not mention is a protocol error.
    static func map(
        _ result: Result<ProduceResponse, TernError>, sent: [TopicPartition], peer: String
    ) -> [TopicPartition: ProduceOutcome] {
        var outcomes: [TopicPartition: ProduceOutcome] = [:]
        switch result {
        case .failure(let error):
            for tp in sent {
                let failure = TernError(error.code, "produce to \(tp) failed: \(error.message)", brokerError: error.brokerError)
                outcomes[tp] = error.isRetriable ? .retriable(failure) : .failed(failure)
            }
        case .success(let response):
            for topic in response.topics {
                for partition in topic.partitions {
                    let tp = TopicPartition(topic: topic.name, partition: partition.partition)
                    if partition.errorCode == .none {
                        outcomes[tp] = .delivered(baseOffset: partition.baseOffset)
                        continue
                    }
                    var error = TernError.broker(
                        partition.errorCode, partition.errorMessage, context: "produce to \(tp) via \(peer) failed")
                    if partition.errorCode == .conditionFailed
                        || (partition.errorCode == .offsetOutOfRange && partition.actualOffset >= 0)
                    {
                        error.actualOffset = partition.actualOffset
                    }
                    outcomes[tp] = partition.errorCode.isRetriable ? .retriable(error) : .failed(error)
                }
            }
            for tp in sent where outcomes[tp] == nil {
                outcomes[tp] = .failed(
                    TernError(.protocolError, "produce to \(tp): the response from \(peer) does not mention the partition"))
            }
        }
        return outcomes.filter { sent.contains($0.key) }
    }
}
