import CoreMetrics
import Synchronization
import TernRaft
import TernStorage

/// A token bucket of bytes: `rate` tokens a second, at most one second's worth banked. A sender
/// may go when the bucket is not in debt and then pays for what it sent, whole batches included,
/// so the debt of one large answer is paid off by waiting before the next. Starts empty: the
/// first send is allowed, the second waits for the first to be paid for, so moving `B` bytes
/// takes at least `(B - last send - one second's worth) / rate` seconds. I/O-free: the caller
/// passes the time (ms of the monotonic clock).
struct ByteTokenBucket: Sendable, Hashable {
    private(set) var rate: Int64
    private(set) var tokens: Int64 = 0
    private(set) var updatedMs: Tick

    init(rate: Int64, now: Tick) {
        self.rate = max(rate, 1)
        self.updatedMs = now
    }

    /// Earns the tokens since the last call (a changed `rate` applies from now).
    mutating func refill(rate newRate: Int64, now: Tick) {
        let elapsed = max(now - updatedMs, 0)
        updatedMs = max(updatedMs, now)
        // Saturating: a huge rate or gap fills the bucket rather than wrapping around.
        let product = elapsed.multipliedReportingOverflow(by: rate)
        let earned = product.overflow ? Int64.max : product.partialValue / 1000
        let sum = tokens.addingReportingOverflow(earned)
        tokens = min(rate, sum.overflow ? Int64.max : sum.partialValue)
        rate = max(newRate, 1)
        tokens = min(tokens, rate)
    }

    /// More was sent than the rate has earned: nothing may be sent until it is paid off.
    var inDebt: Bool { tokens < 0 }

    /// Milliseconds until the debt is paid (0 when not in debt).
    var msUntilAvailable: Int64 {
        guard tokens < 0 else { return 0 }
        return Int64(min((-Double(tokens) * 1000 / Double(rate)).rounded(.up), 3_600_000))
    }

    /// Pays for `bytes` sent (may go into debt).
    mutating func spend(_ bytes: Int64) {
        let difference = tokens.subtractingReportingOverflow(max(bytes, 0))
        tokens = difference.overflow ? Int64.min / 2 : difference.partialValue
    }
}

/// One direction of this broker's replication throttle (`replication.throttled.rate`, Kafka's
/// leader and follower replication quotas): a ``ByteTokenBucket`` per topic — the rate is a
/// topic config — shared by every partition of the topic this broker replicates in that
/// direction. Only the traffic of replicas a reassignment is adding and that are not in sync is
/// charged (``MetadataImage/reassignmentThrottle(topicId:partition:replica:)``), so in-sync
/// replicas, and with them `acks=all` produces, are never slowed. Accounting is per fetch and
/// per partition, never per record.
///
/// A topic's bucket is dropped once it has been idle for ``idleMs`` and is out of debt
/// (``prune(now:)``): when the reassignment finishes, the throttle is removed or the topic is
/// deleted, nothing asks for it any more. Dropping never lets more through: a new bucket starts
/// empty, an idle one would hold a second's worth.
final class ReplicationThrottle: Sendable {
    /// Which end of replication this throttle limits.
    enum Direction: String, Sendable {
        /// The leader's answers to replica fetches.
        case leader
        /// The follower's replica fetches.
        case follower
    }

    let direction: Direction
    private let buckets = Mutex<[String: ByteTokenBucket]>([:])
    private let throttledBytes: Counter
    /// How long a topic's bucket stays unused before it is dropped, and the least time between
    /// two sweeps.
    let idleMs: Tick
    /// When the next sweep may run: read without the lock on every fetch.
    private let nextSweepMs = Atomic<Int64>(0)

    init(_ direction: Direction, idleMs: Tick = 60_000) {
        self.direction = direction
        self.idleMs = max(idleMs, 1)
        throttledBytes = Counter(
            label: "tern_replication_throttled_bytes_total", dimensions: [("direction", direction.rawValue)])
    }

    /// Whether `topic`'s throttled partitions may move bytes now at `rate` (its bucket is not in
    /// debt), how many to ask for (up to one second's worth: what is moved is paid for after,
    /// whole batches included) and, when they may not, how long until the debt is paid.
    func allowance(topic: String, rate: Int64, now: Tick) -> (go: Bool, bytes: Int64, waitMs: Int64) {
        buckets.withLock { buckets in
            var bucket = buckets[topic] ?? ByteTokenBucket(rate: rate, now: now)
            bucket.refill(rate: rate, now: now)
            buckets[topic] = bucket
            return (!bucket.inDebt, bucket.rate, bucket.msUntilAvailable)
        }
    }

    /// Charges `bytes` moved for a throttled partition of `topic`.
    func charge(topic: String, bytes: Int, now: Tick) {
        guard bytes > 0 else { return }
        buckets.withLock { buckets in
            guard var bucket = buckets[topic] else { return }
            bucket.refill(rate: bucket.rate, now: now)
            bucket.spend(Int64(bytes))
            buckets[topic] = bucket
        }
        throttledBytes.increment(by: Int64(bytes))
    }

    /// Drops the buckets of topics unused for ``idleMs`` whose debt is paid. Cheap when called on
    /// every fetch: it sweeps at most once per ``idleMs``, and otherwise reads one atomic.
    func prune(now: Tick) {
        guard now >= nextSweepMs.load(ordering: .relaxed) else { return }
        nextSweepMs.store(now + idleMs, ordering: .relaxed)
        let idleMs = idleMs
        buckets.withLock { buckets in
            guard !buckets.isEmpty else { return }
            buckets = buckets.filter { _, bucket in
                guard now - bucket.updatedMs >= idleMs else { return true }
                var refilled = bucket
                refilled.refill(rate: bucket.rate, now: now)
                return refilled.inDebt
            }
        }
    }

    /// Topics with a bucket (tests).
    var topics: Set<String> { buckets.withLock { Set($0.keys) } }
}

/// The follower side of the reassignment throttle, as the replica fetchers use it.
struct ReplicaFetcherThrottle: Sendable {
    /// The throttled ones of the partitions given, with their rates
    /// (``MetadataImage/reassignmentThrottle(topic:partition:replica:)`` for this broker): one
    /// look at the metadata image per fetch round.
    var rates: @Sendable ([TopicPartition]) -> [TopicPartition: Int64] = { _ in [:] }
    /// The buckets, shared by every fetcher of this broker.
    var buckets = ReplicationThrottle(.follower)
}

extension Broker {
    /// The fetchers' throttle: the rates of the partitions `nodeId` is being added to, from the
    /// cluster's current metadata image.
    static func fetcherThrottle(_ cluster: ClusterNode, _ nodeId: Int32) -> ReplicaFetcherThrottle {
        ReplicaFetcherThrottle(rates: { [weak cluster] partitions in
            guard let image = cluster?.image else { return [:] }
            return reassignmentThrottles(image, partitions, replica: nodeId)
        })
    }

    /// The throttled ones of `partitions` for `replica`, with their rates (the fetcher's view).
    static func reassignmentThrottles(_ image: MetadataImage, _ partitions: [TopicPartition], replica: Int32)
        -> [TopicPartition: Int64]
    {
        var rates: [TopicPartition: Int64] = [:]
        for tp in partitions {
            if let rate = image.reassignmentThrottle(topic: tp.topic, partition: tp.partition, replica: replica) {
                rates[tp] = rate
            }
        }
        return rates
    }
}
