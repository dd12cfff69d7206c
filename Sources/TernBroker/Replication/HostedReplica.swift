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

    /// Tells the machine a flush made the log durable up to `offset`, bounded by what the log
    /// has fsynced *now* (`durableOffset`, read under this replica's lock, which every
    /// truncation holds): a truncation and new appends between the flush and this step must not
    /// make the machine count the new, unsynced records at those offsets.
    func persisted(upTo offset: Int64, durableOffset: (PartitionLog) -> Int64) -> [ReplicationEffect] {
        state.withLock { state in
            state.step(.persisted(upTo: min(offset, durableOffset(log))), now: replicationNow())
        }
    }
}

extension HostedReplica.State {
    /// Steps the machine. A leader's `.proposeIsr` effects are for the caller to send
    /// (``Broker/proposeIsr(_:partitionEpoch:isr:)``) once the lock is released.
    mutating func step(_ input: ReplicationInput, now: Tick) -> [ReplicationEffect] {
        machine.step(input, now: now)
    }
}

/// Milliseconds of the monotonic clock: the replication machines' `now`.
func replicationNow() -> Tick {
    let now = ContinuousClock.now - replicationClockOrigin
    return now.components.seconds * 1000 + now.components.attoseconds / 1_000_000_000_000_000
}

private let replicationClockOrigin = ContinuousClock.now
