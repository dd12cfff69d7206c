import Logging
import Synchronization
import TernStorage

/// The replica fetchers of this broker: `num.replica.fetchers` per leader broker, each partition
/// this broker follows assigned to one of its leader's by a stable hash.
final class ReplicaFetcherManager: Sendable {
    private struct Key: Hashable {
        var leader: Int32
        var index: Int
    }

    private let nodeId: Int32
    private let settings: ReplicaFetcherSettings
    private let host: ReplicaFetcherHost
    private let throttle: ReplicaFetcherThrottle
    private let logger: Logger
    private let fetchers = Mutex<[Key: ReplicaFetcher]>([:])

    init(
        nodeId: Int32, settings: ReplicaFetcherSettings, throttle: ReplicaFetcherThrottle = .init(),
        host: ReplicaFetcherHost, logger: Logger
    ) {
        self.nodeId = nodeId
        self.settings = settings
        self.throttle = throttle
        self.host = host
        self.logger = logger
    }

    /// Makes the fetchers fetch exactly `followed` (each replica with the leader it follows):
    /// fetchers of leaders no longer followed stop.
    func update(_ followed: [(HostedReplica, Int32)]) {
        var wanted: [Key: [TopicPartition: HostedReplica]] = [:]
        for (replica, leader) in followed {
            let tp = replica.topicPartition
            let index = Self.stableHash(tp) % max(settings.fetchers, 1)
            wanted[Key(leader: leader, index: index), default: [:]][tp] = replica
        }
        let (assign, stop) = fetchers.withLock {
            fetchers -> ([(ReplicaFetcher, [TopicPartition: HostedReplica])], [ReplicaFetcher]) in
            var stop: [ReplicaFetcher] = []
            for (key, fetcher) in fetchers where wanted[key] == nil {
                fetchers[key] = nil
                stop.append(fetcher)
            }
            var assign: [(ReplicaFetcher, [TopicPartition: HostedReplica])] = []
            for (key, partitions) in wanted {
                let fetcher =
                    fetchers[key]
                    ?? ReplicaFetcher(
                        leader: key.leader, index: key.index, nodeId: nodeId, settings: settings, host: host,
                        throttle: throttle, logger: logger)
                fetchers[key] = fetcher
                assign.append((fetcher, partitions))
            }
            return (assign, stop)
        }
        for fetcher in stop { fetcher.stop() }
        for (fetcher, partitions) in assign { fetcher.set(partitions) }
    }

    /// Stops every fetcher (shutdown).
    func stopAll() {
        let all = fetchers.withLock { fetchers in
            defer { fetchers = [:] }
            return Array(fetchers.values)
        }
        for fetcher in all { fetcher.stop() }
    }

    /// A hash that is the same in every process (Swift's `Hasher` is seeded per process).
    static func stableHash(_ tp: TopicPartition) -> Int {
        var h: UInt64 = 1_469_598_103_934_665_603
        for byte in tp.topic.utf8 {
            h = (h ^ UInt64(byte)) &* 1_099_511_628_211
        }
        h = (h ^ UInt64(UInt32(bitPattern: tp.partition))) &* 1_099_511_628_211
        return Int(h % UInt64(Int.max))
    }
}
