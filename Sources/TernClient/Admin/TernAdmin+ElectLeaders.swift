import TernWire

/// One partition's outcome of ``TernAdmin/electLeaders(topic:partition:unclean:)``.
public struct LeaderElectionResult: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    /// NONE when elected; ELECTION_NOT_NEEDED when already led as asked;
    /// PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica can take it.
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// True when leadership moved.
    public var elected: Bool { errorCode == .none }
}

extension TernAdmin {
    /// Elects leaders (ElectLeaders, decided by the active controller): by default each
    /// partition's preferred (first) replica, where it is unfenced and in sync; with `unclean`,
    /// any live replica of a partition that has no in-sync one (may lose acknowledged records).
    /// - Parameters:
    ///   - topic: one topic; nil for every partition of every topic (the answer then leaves out
    ///     partitions already led by their preferred replica).
    ///   - partition: one partition of `topic`; nil for all of its partitions.
    /// - Throws: ``TernError``: `.unknownTopic` for a topic that does not exist; `.broker` when
    ///   the request as a whole is refused (no controller, not authorized).
    public func electLeaders(topic: String? = nil, partition: Int32? = nil, unclean: Bool = false) async throws
        -> [LeaderElectionResult]
    {
        var topics: [ElectLeadersRequest.Topic] = []
        if let topic {
            let partitions: [Int32]
            if let partition {
                partitions = [partition]
            } else {
                let snapshot = try await client.metadata.refresh()
                guard let known = snapshot.topics[topic] else {
                    throw TernError(.unknownTopic, "elect leaders: topic '\(topic)' does not exist")
                }
                partitions = known.partitions.map(\.partition).sorted()
            }
            topics = [.init(name: topic, partitions: partitions)]
        }
        let response = try await sendToController(
            ElectLeadersRequest(electionType: unclean ? .unclean : .preferred, topics: topics, timeoutMs: timeoutMs))
        guard response.errorCode == .none else {
            throw TernError.broker(response.errorCode, response.errorMessage, context: "elect leaders")
        }
        _ = try? await client.metadata.refresh()
        return response.topics.flatMap { topic in
            topic.partitions.map {
                LeaderElectionResult(
                    topic: topic.name, partition: $0.partition, errorCode: $0.errorCode, errorMessage: $0.errorMessage)
            }
        }
    }
}
