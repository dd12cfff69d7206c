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

extension Broker {
    /// Answers the `acks=all` waiters of `tp` that its high watermark passed before they were
    /// parked. The purgatory is woken only when the high watermark moves, which may have happened
    /// already: an idempotent retry of a batch already committed (answered with the original
    /// offsets, perhaps by a new leader that got it by replication), or an append whose followers
    /// fsynced it before the produce was parked. On a partition nobody else produces to the high
    /// watermark would not move again and such a produce would wait out its timeout. Nothing
    /// when this replica does not lead: its waiters are failed when it stops (or by a later
    /// epoch's advance).
    func completeReachedProduces(_ tp: TopicPartition) {
        guard let replica = replication.hosted(tp) else { return }
        let view = replica.state.withLock { state -> (hw: Int64, epoch: Int32, setSize: Int)? in
            guard state.machine.role == .leader else { return nil }
            return (state.machine.highWatermark, state.machine.leaderEpoch, state.machine.highWatermarkSet.count)
        }
        guard let view else { return }
        // Within an epoch the high watermark only grows, so a view read before a later advance
        // answers nothing that advance would not; waiters of a newer epoch are left alone.
        producePurgatory.advance(
            tp, highWatermark: view.hw, leaderEpoch: view.epoch,
            code: view.setSize >= minInSyncReplicas(tp.topic) ? .none : .notEnoughReplicas)
    }
}
