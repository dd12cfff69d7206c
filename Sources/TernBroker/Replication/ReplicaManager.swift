import Logging
import Synchronization
import TernRaft
import TernStorage
import TernWire

/// The host shell of replication (DESIGN.md sections 5 and 6): feeds each replicated partition's
/// ``PartitionReplica`` from the metadata image, the produce path, the leader's flusher and the
/// replica fetchers, and performs what the machines ask — log appends and truncations, fetches,
/// wake-ups of parked fetches and produces.
///
/// Only partitions with more than one replica are hosted here: a single-replica partition is
/// served exactly as on a single node (its log is the whole truth).
final class ReplicaManager: Sendable {
    private struct Registry: Sendable {
        var hosted: [TopicPartition: HostedReplica] = [:]
    }

    let nodeId: Int32
    /// This process's run: a reply to a fetch an earlier run sent is never applied.
    let incarnation: UInt64
    private let registry = Mutex(Registry())
    private let logger: Logger

    init(nodeId: Int32, logger: Logger) {
        self.nodeId = nodeId
        self.incarnation = UInt64.random(in: 1...UInt64.max)
        self.logger = logger
    }

    /// The hosted replica of `tp`, nil for a partition with one replica (or none here).
    func hosted(_ tp: TopicPartition) -> HostedReplica? { registry.withLock { $0.hosted[tp] } }

    /// Every hosted replica.
    var all: [HostedReplica] { registry.withLock { Array($0.hosted.values) } }

    /// Makes the hosted set match `image` for the partitions whose logs exist here: new
    /// replicated partitions get a machine over their recovered log; every hosted one steps the
    /// committed partition state. Returns the replicas whose partition state was stepped, with
    /// their effects and whether they stopped leading (their waiting produces fail), and the
    /// replicas created in this pass.
    ///
    /// A new machine counts as durable only what the log has fsynced
    /// (``LogManager/durableOffset(of:)``), not its whole recovered end: the page cache that kept
    /// a tail through a process crash does not survive a power loss. The caller makes such a
    /// tail durable (``Broker/syncUnflushedTail(_:)``).
    func apply(
        _ image: MetadataImage, logs: LogManager, minInSyncReplicas: (String) -> Int, lagTimeMaxMs: Int64,
        highWatermarks: [TopicPartition: Int64]
    ) -> (
        stepped: [(HostedReplica, [ReplicationEffect], PartitionReplica.Role, PartitionReplica.Role)],
        removed: [HostedReplica], created: [HostedReplica]
    ) {
        var wanted: [TopicPartition: MetadataImage.Partition] = [:]
        for topic in image.topicsById.values {
            // `__consumer_offsets` too: the group coordinator's writes wait for its high watermark.
            for p in topic.partitions.values where p.replicas.count > 1 && p.replicas.contains(nodeId) {
                wanted[TopicPartition(topic.name, p.partition)] = p
            }
        }
        var removed: [HostedReplica] = []
        var created: [HostedReplica] = []
        var targets: [(HostedReplica, MetadataImage.Partition)] = []
        registry.withLock { registry in
            for (tp, replica) in registry.hosted where wanted[tp] == nil || logs.log(for: tp) !== replica.log {
                registry.hosted[tp] = nil
                removed.append(replica)
            }
            for (tp, p) in wanted {
                if let existing = registry.hosted[tp] {
                    targets.append((existing, p))
                    continue
                }
                guard let log = logs.log(for: tp) else { continue }
                let machine = PartitionReplica(
                    config: .init(
                        replicaId: nodeId, minInSyncReplicas: minInSyncReplicas(tp.topic),
                        replicaLagTimeMaxMs: lagTimeMaxMs,
                        // The fetcher decides when to send: it holds at most one request per
                        // leader, parked there until data arrives, so the machine neither backs
                        // off nor times out on its own.
                        fetchBackoffMs: 0, fetchTimeoutMs: 0),
                    incarnation: incarnation, logEnd: log.logEndOffset, durableEnd: logs.durableOffset(of: log),
                    history: LeaderEpochCache(log.leaderEpochs), highWatermark: highWatermarks[tp] ?? 0)
                let replica = HostedReplica(topicPartition: tp, log: log, machine: machine)
                registry.hosted[tp] = replica
                created.append(replica)
                targets.append((replica, p))
            }
        }
        var stepped: [(HostedReplica, [ReplicationEffect], PartitionReplica.Role, PartitionReplica.Role)] = []
        for (replica, p) in targets {
            let (effects, before, after) = replica.state.withLock { state in
                let before = state.machine.role
                let effects = state.step(.partitionState(p), now: replicationNow())
                let after = state.machine.role
                if after == .leader, replica.log.latestEpoch != state.machine.leaderEpoch {
                    // The epoch starts at the log end, on disk before anything of it is appended,
                    // so a follower of this leader is answered from the same history.
                    do {
                        try replica.log.startLeaderEpoch(state.machine.leaderEpoch)
                    } catch {
                        logger.error(
                            "cannot record the leader epoch",
                            metadata: [
                                "tern_topic": "\(replica.topicPartition.topic)",
                                "tern_partition": "\(replica.topicPartition.partition)", "error": "\(error)",
                            ])
                    }
                }
                if case .follower = after { state.pendingFetch = Self.lastFetch(effects) ?? state.pendingFetch }
                if after == .idle { state.pendingFetch = nil }
                return (effects, before, after)
            }
            stepped.append((replica, effects, before, after))
        }
        return (stepped, removed, created)
    }

    /// The last fetch among `effects`.
    static func lastFetch(_ effects: [ReplicationEffect]) -> ReplicaFetch? {
        var last: ReplicaFetch?
        for case .sendFetch(_, let f) in effects { last = f }
        return last
    }
}
