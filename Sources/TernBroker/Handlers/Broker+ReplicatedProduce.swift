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

    /// Answers the parked `acks=all` produces of `tp` that the leader's high watermark already
    /// passed. Called right after parking: the purgatory is otherwise woken only by a later
    /// advance, and a produce whose batch the high watermark passed before it parked — an
    /// idempotent retry answered as a duplicate of what the previous leader stored (its offsets
    /// lie below the high watermark from the start), or an append the followers confirmed
    /// between the append and the park — waited for the next append to the partition. After a
    /// failover the producer sends nothing else to that partition while the retry is in flight,
    /// so it waited out its request timeout, again and again (a 42-127 s stall in
    /// scripts/bench-failover.sh). Parking first and checking after loses no advance: one that
    /// lands in between completes the waiter there, and a waiter completes once. The group
    /// coordinator's writes to `__consumer_offsets` park here too (``whenCommitted(_:_:completion:)``).
    func answerPassedProduces(_ tp: TopicPartition) {
        guard let replica = replication.hosted(tp) else { return }
        let (leading, highWatermark, epoch, setSize) = replica.state.withLock {
            (
                $0.machine.role == .leader, $0.machine.highWatermark, $0.machine.leaderEpoch,
                $0.machine.highWatermarkSet.count
            )
        }
        // A replica that stopped leading failed its waiters already; one parked since then is
        // answered here rather than at its deadline.
        guard leading else { return producePurgatory.fail(tp, .notLeaderOrFollower) }
        producePurgatory.advance(
            tp, highWatermark: highWatermark, leaderEpoch: epoch,
            code: setSize >= minInSyncReplicas(tp.topic) ? .none : .notEnoughReplicas)
    }
}
