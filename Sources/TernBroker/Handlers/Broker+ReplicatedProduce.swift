import Synchronization
import TernStorage
import TernWire

extension Broker {
    /// Appends to a replicated partition this broker leads: under the replica's lock, stamped
    /// with its leader epoch, refused with NOT_LEADER_OR_FOLLOWER when the machine does not lead
    /// (the image may say so before the machine has stepped it) and, for `acks=all`, with
    /// NOT_ENOUGH_REPLICAS when the committed ISR is smaller than `min.insync.replicas` (nothing
    /// is appended then). The machine learns the new log end; the flusher is asked for the
    /// append's durability whatever the acks, since the high watermark — what consumers see —
    /// waits for the leader's own fsync too.
    func appendAsLeader(
        _ replica: HostedReplica, acks: Int16, topic: String, partition: Int32,
        _ append: (Int32) -> AppendOutcome
    ) -> AppendOutcome {
        let minIsr = minInSyncReplicas(topic)
        let outcome = replica.state.withLock { state -> AppendOutcome in
            guard state.machine.role == .leader, let p = state.machine.partition else {
                return AppendOutcome(
                    response: .init(
                        partition: partition, errorCode: .notLeaderOrFollower,
                        errorMessage: "broker \(config.nodeId) does not lead \(topic)-\(partition)"),
                    endOffset: -1)
            }
            if acks == -1 && p.isr.count < minIsr {
                return AppendOutcome(
                    response: .init(
                        partition: partition, errorCode: .notEnoughReplicas,
                        errorMessage:
                            "\(topic)-\(partition): \(p.isr.count) in-sync replicas \(p.isr), min.insync.replicas is \(minIsr)"
                    ),
                    endOffset: -1)
            }
            var outcome = append(p.leaderEpoch)
            outcome.leaderEpoch = p.leaderEpoch
            if outcome.errorCode == .none {
                _ = state.step(.appended(endOffset: replica.log.logEndOffset), now: replicationNow())
            }
            return outcome
        }
        guard outcome.errorCode == .none else { return outcome }
        logManager.whenDurable(replica.log, upTo: outcome.endOffset) { [self] result in
            if case .success = result { replicaPersisted(replica, upTo: outcome.endOffset) }
        }
        return outcome
    }
}
