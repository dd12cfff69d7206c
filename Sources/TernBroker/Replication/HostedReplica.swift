import Synchronization
import TernRaft
import TernStorage

/// One partition this broker holds a replica of, where the partition has more than one replica:
/// the partition's log and its ``PartitionReplica`` machine, kept in step under one lock.
///
/// Every change of the log's offsets — a leader's append, a follower's append or truncation —
/// happens while the lock is held and is told to the machine in the same critical section, so
/// the machine's log end is always the log's. Appends are serialized by the log's own lock
/// anyway; holding this one around them costs no parallelism.
final class HostedReplica: Sendable {
    struct State: Sendable {
        var machine: PartitionReplica
        /// Follower: the fetch the machine asked for last and the fetcher has not sent yet.
        var pendingFetch: ReplicaFetch?
    }

    let topicPartition: TopicPartition
    let log: PartitionLog
    let state: Mutex<State>

    init(topicPartition: TopicPartition, log: PartitionLog, machine: PartitionReplica) {
        self.topicPartition = topicPartition
        self.log = log
        self.state = Mutex(State(machine: machine))
    }

    /// The leader epoch this replica leads in, or nil when it does not lead.
    var leaderEpoch: Int32? {
        state.withLock { $0.machine.role == .leader ? $0.machine.leaderEpoch : nil }
    }

    /// What consumers may read: below the high watermark, once it reached this leader's epoch
    /// start; nil when this replica does not lead (or not yet visibly).
    var consumerHighWatermark: Int64? {
        state.withLock { state in
            switch state.machine.consumerView(clientLeaderEpoch: nil) {
            case .success(let view): view.highWatermark
            case .failure: nil
            }
        }
    }

    /// The high watermark as this replica knows it (a follower's is what its leader last said).
    var highWatermark: Int64 { state.withLock { $0.machine.highWatermark } }
}

extension HostedReplica.State {
    /// Steps the machine; an ISR proposal it makes is answered as refused at once, since this
    /// broker does not send AlterPartition yet: the ISR is what the controller committed (it
    /// shrinks when a broker is fenced), and replicas proposed for it never hold the high
    /// watermark back.
    mutating func step(_ input: ReplicationInput, now: Tick) -> [ReplicationEffect] {
        var effects = machine.step(input, now: now)
        for case .proposeIsr(_, let partitionEpoch, _) in effects {
            effects += machine.step(.isrProposalRefused(partitionEpoch: partitionEpoch), now: now)
        }
        return effects
    }
}

/// Milliseconds of the monotonic clock: the replication machines' `now`.
func replicationNow() -> Tick {
    let now = ContinuousClock.now - replicationClockOrigin
    return now.components.seconds * 1000 + now.components.attoseconds / 1_000_000_000_000_000
}

private let replicationClockOrigin = ContinuousClock.now
