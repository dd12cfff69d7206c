import Logging
import TernWire

extension ActiveController {
    /// An AlterPartition, on the queue: decided against the working image
    /// (``ControllerDecisions/alterPartition(_:_:)``), the changes proposed as one entry, and
    /// answered once committed with each partition's committed state, so a leader never acts on
    /// an ISR the metadata log does not hold. A request-level refusal (not the active controller,
    /// stale or unknown broker epoch) or a failed proposal (NOT_CONTROLLER / REQUEST_TIMED_OUT)
    /// answers every changed partition with that code. A refused partition carries its state in
    /// the committed image this controller has applied, so a stale leader learns what is current.
    func alterPartition(
        _ request: AlterPartitionRequest, reply: @escaping @Sendable (AlterPartitionResponse) -> Void
    ) {
        let decision = decide { image throws(ControllerError) in
            try ControllerDecisions.alterPartition(image, request)
        }.map(withCommittedStateOfRefusals)
        proposeAndReply(
            decision, records: \.records,
            what: { "ISR change of \($0.changes.map(\.what)) by broker \(request.brokerId)" },
            refused: { reply(AlterPartitionResponse(errorCode: $0.code, errorMessage: $0.message, partitions: [])) },
            failed: { decision, error in
                // Not known to be committed (a timed-out entry may still commit; the leader then
                // learns it from its metadata): the accepted partitions get the failure, the
                // refused ones keep their own codes.
                let (code, message) = Self.quorumFailure(error)
                reply(
                    AlterPartitionResponse(
                        partitions: decision.partitions.map { partition in
                            guard partition.errorCode == .none else { return partition }
                            return .init(
                                topicId: partition.topicId, partition: partition.partition, errorCode: code,
                                errorMessage: message, leader: -1, leaderEpoch: -1, partitionEpoch: -1, isr: [])
                        }))
            },
            committed: { decision in
                for change in decision.changes {
                    self.logger.info(
                        "ISR changed",
                        metadata: [
                            "tern_partition": "\(change.what)", "tern_isr_before": "\(change.before)",
                            "tern_isr": "\(change.after)", "tern_broker": "\(request.brokerId)",
                        ])
                }
            }
        ) { decision, _ in reply(AlterPartitionResponse(partitions: decision.partitions)) }
    }

    /// `decision` with each refused partition's state taken from the committed image (the pure
    /// decision leaves it -1: it sees the working image, which may hold uncommitted changes).
    private func withCommittedStateOfRefusals(
        _ decision: ControllerDecisions.AlterPartitionDecision
    ) -> ControllerDecisions.AlterPartitionDecision {
        var decision = decision
        let committed = publisher.image
        for i in decision.partitions.indices where decision.partitions[i].errorCode != .none {
            guard let p = committed.partition(decision.partitions[i].topicId, decision.partitions[i].partition)
            else { continue }
            decision.partitions[i].leader = p.leader
            decision.partitions[i].leaderEpoch = p.leaderEpoch
            decision.partitions[i].partitionEpoch = p.partitionEpoch
            decision.partitions[i].isr = p.isr
        }
        return decision
    }
}
