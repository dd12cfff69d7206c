import Logging
import Synchronization
import TernWire

extension ActiveController {
    /// AlterPartitionReassignments on the queue: each partition decided in request order against
    /// the working image with the earlier ones applied
    /// (``ControllerDecisions/reassign(_:topic:partition:target:)``); every accepted partition's
    /// records proposed as one entry, answered once it commits with its offset (-1 when nothing
    /// changed). A refused partition does not fail the others.
    func alterPartitionReassignments(
        _ request: AlterPartitionReassignmentsRequest,
        reply: @escaping @Sendable (AlterPartitionReassignmentsResponse, Int64) -> Void
    ) {
        typealias Answer = AlterPartitionReassignmentsResponse
        let decided = decide { image -> (records: [MetadataRecord], answer: Answer) in
            var working = image
            var records: [MetadataRecord] = []
            var topics: [Answer.Topic] = []
            for topic in request.topics {
                var partitions: [Answer.Partition] = []
                for partition in topic.partitions {
                    do throws(ControllerError) {
                        let change = try ControllerDecisions.reassign(
                            working, topic: topic.name, partition: partition.partition, target: partition.replicas)
                        // The decision checked its records against `working`: they apply.
                        working = (try? working.applying(change)) ?? working
                        records += change
                        partitions.append(.init(partition: partition.partition))
                    } catch {
                        partitions.append(
                            .init(partition: partition.partition, errorCode: error.code, errorMessage: error.message))
                    }
                }
                topics.append(.init(name: topic.name, partitions: partitions))
            }
            return (records, Answer(topics: topics))
        }
        proposeAndReply(
            decided, records: { $0.records }, what: { _ in "partition reassignments" },
            timeout: timeout(forRequestMs: request.timeoutMs),
            refused: { reply(request.failed($0.code, $0.message), -1) },
            failed: { decision, error in
                let (code, message) = Self.quorumFailure(error)
                // Partitions refused by the decision keep their own error.
                var answer = decision.answer
                for t in answer.topics.indices {
                    for p in answer.topics[t].partitions.indices where answer.topics[t].partitions[p].errorCode == .none
                    {
                        answer.topics[t].partitions[p].errorCode = code
                        answer.topics[t].partitions[p].errorMessage = message
                    }
                }
                reply(answer, -1)
            },
            committed: { decision in
                self.logger.info(
                    "partition reassignments changed", metadata: ["tern_records": "\(decision.records.count)"])
            }
        ) { decision, offset in reply(decision.answer, offset) }
    }

    /// On the queue while active, after something new committed (each poll compares the
    /// committed offset): completes reassignments whose targets are in sync and widens
    /// `__consumer_offsets` to the live brokers (``ControllerDecisions/completeReassignments(_:)``,
    /// ``ControllerDecisions/widenOffsetsTopic(_:replicationFactor:)``). Decided against the
    /// working image, so records already proposed are not proposed again.
    func reactToCommits() {
        let committed = publisher.current.nextOffset
        let records = state.withLock { state -> [MetadataRecord] in
            guard state.activeEpoch != nil, committed != state.reactedThrough else { return [] }
            state.reactedThrough = committed
            do throws(ControllerError) {
                let completed = try ControllerDecisions.completeReassignments(state.working)
                let after = (try? state.working.applying(completed)) ?? state.working
                let widened = try ControllerDecisions.widenOffsetsTopic(
                    after, replicationFactor: Int(topicDefaults.offsetsTopicReplicationFactor))
                return completed + widened
            } catch {
                logger.error("cannot decide partition reassignments", metadata: ["error": "\(error)"])
                return []
            }
        }
        guard !records.isEmpty else { return }
        propose(records, what: "reassignment progress") { result in
            if case .failure(let error) = result {
                self.logger.warning("reassignment progress not committed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension AlterPartitionReassignmentsRequest: ForwardableRequest {
    func failed(_ code: ErrorCode, _ message: String) -> AlterPartitionReassignmentsResponse {
        AlterPartitionReassignmentsResponse(
            topics: topics.map { topic in
                .init(
                    name: topic.name,
                    partitions: topic.partitions.map {
                        .init(partition: $0.partition, errorCode: code, errorMessage: message)
                    })
            })
    }
}
