import TernStorage
import TernWire
import XCTest

@testable import TernBroker

/// The leader's view of each replica's lag (``PartitionReplica/followerLag(now:)``) and the
/// replication throttle's token bucket, driven by hand with explicit times.
final class ReplicaLagAndThrottleTests: XCTestCase {
    private func leader() -> PartitionReplica {
        var machine = PartitionReplica(
            config: .init(replicaId: 1, minInSyncReplicas: 1, replicaLagTimeMaxMs: 30_000), incarnation: 1, logEnd: 0,
            durableEnd: 0,
            history: .init())
        _ = machine.step(
            .partitionState(
                MetadataImage.Partition(
                    partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 1, partitionEpoch: 1)),
            now: 0)
        return machine
    }

    private func fetch(_ offset: Int64, durable: Int64) -> ReplicaFetch {
        ReplicaFetch(
            leaderEpoch: 1, fetchOffset: offset, lastFetchedEpoch: offset > 0 ? 1 : -1, durableOffset: durable,
            incarnation: 9, sequence: 1)
    }

    func testLagIsRecordsBehindTheLogEndAndTimeSinceCaughtUp() {
        var machine = leader()
        // Before any fetch: the followers' offsets are unknown, their caught-up clock starts with the epoch.
        var lags = machine.followerLag(now: 500)
        XCTAssertEqual(lags.map(\.replicaId), [1, 2, 3])
        XCTAssertEqual(lags[1].lagRecords, -1)
        XCTAssertEqual(lags[1].caughtUpAgoMs, 500)
        _ = machine.step(.produce(id: 1, recordCount: 10, acks: .leader, leaderEpoch: nil), now: 1000)
        _ = machine.step(.fetch(from: 2, fetch(10, durable: 10)), now: 1100)
        _ = machine.step(.fetch(from: 3, fetch(4, durable: 4)), now: 1200)
        lags = machine.followerLag(now: 2000)
        // The leader: its log end, and its own fsynced end (nothing persisted yet).
        XCTAssertEqual(
            lags[0],
            .init(replicaId: 1, fetchOffset: 10, durableOffset: 0, lagRecords: 0, caughtUpAgoMs: 0, lastFetchAgoMs: -1))
        XCTAssertEqual(
            lags[1],
            .init(
                replicaId: 2, fetchOffset: 10, durableOffset: 10, lagRecords: 0, caughtUpAgoMs: 0, lastFetchAgoMs: 900))
        // Replica 3 last had everything when the epoch began (nothing was appended before 1000).
        XCTAssertEqual(lags[2].lagRecords, 6)
        XCTAssertEqual(lags[2].fetchOffset, 4)
        XCTAssertEqual(lags[2].caughtUpAgoMs, 2000)
        XCTAssertEqual(lags[2].lastFetchAgoMs, 800)
        // More appended: the caught-up follower falls behind, its clock from its last full fetch.
        _ = machine.step(.produce(id: 2, recordCount: 5, acks: .leader, leaderEpoch: nil), now: 2100)
        lags = machine.followerLag(now: 3100)
        XCTAssertEqual(lags[1].lagRecords, 5)
        XCTAssertEqual(lags[1].caughtUpAgoMs, 2000)
        // A follower does not report lag.
        var follower = PartitionReplica(
            config: .init(replicaId: 2, minInSyncReplicas: 1), incarnation: 1, logEnd: 0, durableEnd: 0,
            history: .init())
        _ = follower.step(
            .partitionState(
                MetadataImage.Partition(
                    partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 1, partitionEpoch: 1)),
            now: 0)
        XCTAssertEqual(follower.followerLag(now: 10), [])
    }

    /// What the `tern_replica_max_lag` and `tern_replica_max_lag_seconds` gauges report: the
    /// most records and the longest time since caught up over the followers, each on its own.
    func testMaxFollowerLagIsTheLargestOverFollowersInRecordsAndTime() {
        var machine = leader()
        // No fetch yet: offsets unknown, both followers behind since the epoch began.
        var most = machine.maxFollowerLag(now: 500)
        XCTAssertEqual([most.records, most.ms], [0, 500])
        _ = machine.step(.produce(id: 1, recordCount: 10, acks: .leader, leaderEpoch: nil), now: 1000)
        _ = machine.step(.fetch(from: 2, fetch(10, durable: 10)), now: 1100)
        _ = machine.step(.fetch(from: 3, fetch(4, durable: 4)), now: 1200)
        most = machine.maxFollowerLag(now: 2000)
        XCTAssertEqual([most.records, most.ms], [6, 2000], "replica 3: 6 records, never caught up this epoch")
        // Replica 3 catches up; replica 2 falls behind after its last full fetch at 1100.
        _ = machine.step(.produce(id: 2, recordCount: 5, acks: .leader, leaderEpoch: nil), now: 2500)
        _ = machine.step(.fetch(from: 3, fetch(15, durable: 15)), now: 2600)
        most = machine.maxFollowerLag(now: 4100)
        XCTAssertEqual([most.records, most.ms], [5, 3000])
        _ = machine.step(.fetch(from: 2, fetch(15, durable: 15)), now: 4200)
        most = machine.maxFollowerLag(now: 9000)
        XCTAssertEqual([most.records, most.ms], [0, 0], "everyone caught up on a quiet partition")
        // Replica 3 stops fetching and one record is appended: one record behind, while the time
        // since it was caught up (its fetch at 2600) keeps growing.
        _ = machine.step(.produce(id: 3, recordCount: 1, acks: .leader, leaderEpoch: nil), now: 9100)
        _ = machine.step(.fetch(from: 2, fetch(16, durable: 16)), now: 9200)
        most = machine.maxFollowerLag(now: 40_000)
        XCTAssertEqual([most.records, most.ms], [1, 40_000 - 2600], "replica 3, last caught up at 2600")
    }

    func testTheBucketLetsOneSendGoThenWaitsForItToBePaidFor() {
        var bucket = ByteTokenBucket(rate: 1000, now: 0)
        XCTAssertFalse(bucket.inDebt, "an empty bucket lets the first send go")
        bucket.spend(3000)
        XCTAssertTrue(bucket.inDebt)
        XCTAssertEqual(bucket.msUntilAvailable, 3000)
        bucket.refill(rate: 1000, now: 1500)
        XCTAssertEqual(bucket.msUntilAvailable, 1500)
        bucket.refill(rate: 1000, now: 3000)
        XCTAssertFalse(bucket.inDebt)
        // At most one second's worth is banked, however long it idles.
        bucket.refill(rate: 1000, now: 100_000)
        XCTAssertEqual(bucket.tokens, 1000)
        // A huge rate or gap saturates instead of overflowing.
        bucket.refill(rate: .max, now: .max)
        bucket.refill(rate: .max, now: .max)
        XCTAssertFalse(bucket.inDebt)
        bucket.spend(.max)
        bucket.spend(.max)
        XCTAssertTrue(bucket.inDebt)
        XCTAssertLessThanOrEqual(bucket.msUntilAvailable, 3_600_000)
    }

    /// Moving `B` bytes in sends of at most one second's worth takes at least
    /// `(B - one send - one second's worth) / rate` seconds of the bucket's clock.
    func testTheThrottleBoundsTheRate() {
        let throttle = ReplicationThrottle(.follower)
        let rate: Int64 = 200_000
        var now: Int64 = 0
        var moved: Int64 = 0
        while moved < 3_000_000 {
            let allowance = throttle.allowance(topic: "t", rate: rate, now: now)
            if allowance.go {
                let sent = allowance.bytes + 16_384  // a whole batch beyond what was asked for
                throttle.charge(topic: "t", bytes: Int(sent), now: now)
                moved += sent
            } else {
                now += max(allowance.waitMs, 1)
            }
        }
        XCTAssertGreaterThanOrEqual(now, (3_000_000 - 2 * rate - 16_384) * 1000 / rate)
        XCTAssertLessThanOrEqual(now, 3_000_000 * 1000 / rate + 1000)
        // Topics have their own buckets.
        XCTAssertTrue(throttle.allowance(topic: "other", rate: rate, now: now).go)
    }
}

/// A topic's throttle bucket goes once it is idle (its reassignment ended, its throttle was
/// removed, the topic was deleted) and its debt is paid; a bucket in use or in debt stays.
final class ReplicationThrottlePruneTests: XCTestCase {
    func testIdleBucketsArePrunedAndBusyOrIndebtedOnesKept() {
        let throttle = ReplicationThrottle(.leader, idleMs: 10_000)
        let rate: Int64 = 1000
        // "done" moves once and is never asked for again; "busy" keeps moving; "indebted" sends
        // 60 s worth at once and is not asked for again.
        XCTAssertTrue(throttle.allowance(topic: "done", rate: rate, now: 0).go)
        throttle.charge(topic: "done", bytes: 500, now: 0)
        XCTAssertTrue(throttle.allowance(topic: "indebted", rate: rate, now: 0).go)
        throttle.charge(topic: "indebted", bytes: 60_000, now: 0)
        for now in stride(from: Int64(0), through: 30_000, by: 1000) {
            if throttle.allowance(topic: "busy", rate: rate, now: now).go {
                throttle.charge(topic: "busy", bytes: 1000, now: now)
            }
            throttle.prune(now: now)
        }
        XCTAssertEqual(throttle.topics, ["busy", "indebted"], "done was idle 10 s: dropped")
        // Idle since 30 s, busy goes; the debt is paid only 60 s in, so indebted stays.
        throttle.prune(now: 59_000)
        XCTAssertEqual(throttle.topics, ["indebted"])
        // Sweeps run at most every 10 s: the next one, once the debt is paid, drops it.
        throttle.prune(now: 65_000)
        XCTAssertEqual(throttle.topics, ["indebted"])
        throttle.prune(now: 69_000)
        XCTAssertEqual(throttle.topics, [])
        // A dropped topic starts again with an empty bucket: its first send goes, the next waits.
        XCTAssertTrue(throttle.allowance(topic: "done", rate: rate, now: 70_000).go)
        throttle.charge(topic: "done", bytes: 2000, now: 70_000)
        XCTAssertFalse(throttle.allowance(topic: "done", rate: rate, now: 70_001).go)
    }
}
