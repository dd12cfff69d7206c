import TernStorage
import XCTest

/// The leader-epoch table as a pure value: Kafka's `LeaderEpochFileCacheTest` cases and the
/// follower truncation of KIP-101/279/595, including repeated failovers.
final class LeaderEpochCacheTests: XCTestCase {
    func entries(_ pairs: [(Int32, Int64)]) -> [EpochEntry] {
        pairs.map { EpochEntry(epoch: $0.0, startOffset: $0.1) }
    }

    func testAssignKeepsTheFirstOffsetOfEachEpoch() {
        var cache = LeaderEpochCache()
        XCTAssertTrue(cache.assign(epoch: 0, startOffset: 0))
        XCTAssertFalse(cache.assign(epoch: 0, startOffset: 5), "same epoch later: nothing changes")
        XCTAssertTrue(cache.assign(epoch: 2, startOffset: 7))
        XCTAssertFalse(cache.assign(epoch: -1, startOffset: 9), "unstamped batches are ignored")
        XCTAssertEqual(cache.entries, entries([(0, 0), (2, 7)]))
        XCTAssertEqual(cache.latestEpoch, 2)
    }

    func testAssignRemovesEntriesItContradicts() {
        var cache = LeaderEpochCache(entries([(1, 0), (3, 10), (5, 20)]))
        // An older epoch at a later offset: the newer entries cannot be right any more.
        XCTAssertTrue(cache.assign(epoch: 4, startOffset: 25))
        XCTAssertEqual(cache.entries, entries([(1, 0), (3, 10), (4, 25)]))
        // A newer epoch at an offset already covered: entries starting at or after it go.
        XCTAssertTrue(cache.assign(epoch: 6, startOffset: 10))
        XCTAssertEqual(cache.entries, entries([(1, 0), (6, 10)]))
        // The same epoch at an earlier offset moves its start back.
        XCTAssertTrue(cache.assign(epoch: 6, startOffset: 8))
        XCTAssertEqual(cache.entries, entries([(1, 0), (6, 8)]))
    }

    func testInitKeepsOnlyTheIncreasingPrefix() {
        XCTAssertEqual(
            LeaderEpochCache(entries([(0, 0), (2, 5), (1, 9), (4, 12)])).entries, entries([(0, 0), (2, 5)]))
        XCTAssertEqual(LeaderEpochCache(entries([(0, 0), (2, 0)])).entries, entries([(0, 0)]))
        XCTAssertEqual(LeaderEpochCache(entries([(-1, 0)])).entries, [])
    }

    func testEndOffsetForEpochAsKafkaAnswers() {
        let cache = LeaderEpochCache(entries([(2, 5), (4, 10), (7, 20)]))
        let end: Int64 = 30
        // The latest epoch ends at the log end.
        XCTAssertEqual(cache.endOffset(for: 7, logEndOffset: end), EpochEndOffset(epoch: 7, endOffset: 30))
        // A known epoch ends where the next starts.
        XCTAssertEqual(cache.endOffset(for: 4, logEndOffset: end), EpochEndOffset(epoch: 4, endOffset: 20))
        XCTAssertEqual(cache.endOffset(for: 2, logEndOffset: end), EpochEndOffset(epoch: 2, endOffset: 10))
        // An unknown epoch between two: the largest below it, ending at the start of the next (KIP-279).
        XCTAssertEqual(cache.endOffset(for: 3, logEndOffset: end), EpochEndOffset(epoch: 2, endOffset: 10))
        XCTAssertEqual(cache.endOffset(for: 6, logEndOffset: end), EpochEndOffset(epoch: 4, endOffset: 20))
        // Below every known epoch: the requested epoch, ending where the first known one starts.
        XCTAssertEqual(cache.endOffset(for: 1, logEndOffset: end), EpochEndOffset(epoch: 1, endOffset: 5))
        // Above the latest, undefined, or on an empty table: undefined.
        XCTAssertEqual(cache.endOffset(for: 8, logEndOffset: end), .undefined)
        XCTAssertEqual(cache.endOffset(for: -1, logEndOffset: end), .undefined)
        XCTAssertEqual(LeaderEpochCache().endOffset(for: 0, logEndOffset: 0), .undefined)
    }

    func testEpochAtOffsetIsTheEpochOfThatRecord() {
        let cache = LeaderEpochCache(entries([(1, 0), (2, 4), (4, 6)]))
        XCTAssertEqual(cache.epoch(at: 0), 1)
        XCTAssertEqual(cache.epoch(at: 3), 1)
        XCTAssertEqual(cache.epoch(at: 4), 2, "an epoch's first offset is its own")
        XCTAssertEqual(cache.epoch(at: 5), 2)
        XCTAssertEqual(cache.epoch(at: 6), 4)
        XCTAssertEqual(cache.epoch(at: 100), 4)
        XCTAssertEqual(LeaderEpochCache(entries([(3, 10)])).epoch(at: 9), -1, "below the history: unknown")
        XCTAssertEqual(LeaderEpochCache().epoch(at: 0), -1)
        // After a truncation the dropped epoch's offsets fall back to the one before it.
        var truncated = cache
        truncated.truncateFromEnd(endOffset: 5)
        XCTAssertEqual(truncated.entries, entries([(1, 0), (2, 4)]))
        XCTAssertEqual(truncated.epoch(at: 4), 2)
        XCTAssertEqual(truncated.epoch(at: 3), 1)
        truncated.truncateFromEnd(endOffset: 0)
        XCTAssertEqual(truncated.entries, [])
    }

    func testTruncateFromEndAndStart() {
        var cache = LeaderEpochCache(entries([(1, 0), (3, 10), (5, 20)]))
        XCTAssertFalse(cache.truncateFromEnd(endOffset: 25))
        XCTAssertTrue(cache.truncateFromEnd(endOffset: 20), "an epoch starting at the new end has no data left")
        XCTAssertEqual(cache.entries, entries([(1, 0), (3, 10)]))
        XCTAssertTrue(cache.truncateFromStart(startOffset: 12))
        XCTAssertEqual(cache.entries, entries([(3, 12)]), "the epoch holding the new start now starts there")
        XCTAssertFalse(cache.truncateFromStart(startOffset: 12))
        var other = LeaderEpochCache(entries([(1, 0), (3, 10)]))
        XCTAssertTrue(other.truncateFromStart(startOffset: 10))
        XCTAssertEqual(other.entries, entries([(3, 10)]))
    }

    func testDivergingEpochOnlyWhenTheFollowerIsAhead() {
        let leader = LeaderEpochCache(entries([(0, 0), (2, 10), (4, 15)]))
        // The follower's last epoch is the leader's latest: no divergence.
        XCTAssertNil(leader.divergingEpoch(lastFetchedEpoch: 4, fetchOffset: 18, logEndOffset: 20))
        // Epoch 2 ends at 15 here: a follower at 12 in epoch 2 agrees, one at 17 does not.
        XCTAssertNil(leader.divergingEpoch(lastFetchedEpoch: 2, fetchOffset: 12, logEndOffset: 20))
        XCTAssertEqual(
            leader.divergingEpoch(lastFetchedEpoch: 2, fetchOffset: 17, logEndOffset: 20),
            EpochEndOffset(epoch: 2, endOffset: 15))
        // An epoch the leader never had: the largest below it.
        XCTAssertEqual(
            leader.divergingEpoch(lastFetchedEpoch: 3, fetchOffset: 12, logEndOffset: 20),
            EpochEndOffset(epoch: 2, endOffset: 15))
        // A follower with nothing (or an old client) never diverges.
        XCTAssertNil(leader.divergingEpoch(lastFetchedEpoch: -1, fetchOffset: 0, logEndOffset: 20))
    }

    /// KIP-279's motivating case: B is leader in epoch 2 with a record A never saw, then A leads
    /// epoch 3. B must drop its epoch-2 record, which truncating to the leader's end of B's
    /// epoch (KIP-101) would keep.
    func testKip279FastLeaderFailover() {
        let a = LeaderEpochCache(entries([(1, 0), (3, 2)]))  // m0 m1 in epoch 1, m2 in epoch 3
        let b = LeaderEpochCache(entries([(1, 0), (2, 1)]))  // m0 in epoch 1, m1' in epoch 2
        let diverging = a.divergingEpoch(lastFetchedEpoch: 2, fetchOffset: 2, logEndOffset: 3)
        XCTAssertEqual(diverging, EpochEndOffset(epoch: 1, endOffset: 2))
        let target = b.truncationTarget(leader: diverging ?? .undefined, logEndOffset: 2, highWatermark: 0)
        XCTAssertEqual(target, TruncationTarget(offset: 1, completed: true))
    }

    /// A follower that does not know the leader's epoch truncates to the end of its own largest
    /// epoch below it and asks again, twice here, before the logs agree.
    func testFollowerUnawareOfTheLeadersEpochConvergesInRounds() {
        let leader = LeaderEpochCache(entries([(0, 0), (2, 5), (4, 8)]))  // log end 10
        var follower = LeaderEpochCache(entries([(0, 0), (1, 3), (3, 6)]))  // log end 9
        var end: Int64 = 9
        var first = leader.divergingEpoch(lastFetchedEpoch: 3, fetchOffset: end, logEndOffset: 10)
        XCTAssertEqual(first, EpochEndOffset(epoch: 2, endOffset: 8))
        let round1 = follower.truncationTarget(leader: first ?? .undefined, logEndOffset: end, highWatermark: 0)
        XCTAssertEqual(round1, TruncationTarget(offset: 6, completed: false))
        end = round1.offset
        follower.truncateFromEnd(endOffset: end)
        first = leader.divergingEpoch(lastFetchedEpoch: follower.latestEpoch ?? -1, fetchOffset: end, logEndOffset: 10)
        XCTAssertEqual(first, EpochEndOffset(epoch: 0, endOffset: 5))
        let round2 = follower.truncationTarget(leader: first ?? .undefined, logEndOffset: end, highWatermark: 0)
        XCTAssertEqual(round2, TruncationTarget(offset: 3, completed: true))
        follower.truncateFromEnd(endOffset: round2.offset)
        XCTAssertNil(leader.divergingEpoch(lastFetchedEpoch: 0, fetchOffset: 3, logEndOffset: 10))
    }

    func testUndefinedLeaderAnswerTruncatesToTheHighWatermark() {
        let follower = LeaderEpochCache(entries([(0, 0), (1, 4)]))
        XCTAssertEqual(
            follower.truncationTarget(leader: .undefined, logEndOffset: 9, highWatermark: 6),
            TruncationTarget(offset: 6, completed: true))
        XCTAssertEqual(
            follower.truncationTarget(
                leader: EpochEndOffset(epoch: -1, endOffset: 5), logEndOffset: 9, highWatermark: 0),
            TruncationTarget(offset: 5, completed: true))
    }

    /// Repeated failovers, property style: replicas whose logs are arrays of epochs per offset;
    /// each round a random replica becomes leader in the next epoch (unclean elections included),
    /// appends, and random followers reconcile with it through the diverging epoch and copy its
    /// entries. After every reconciliation the follower's log is a prefix of the leader's, and
    /// any two logs holding the same epoch at an offset are identical up to it (log matching).
    func testRepeatedFailoversAlwaysReconcileToAPrefixOfTheLeader() {
        for seed in UInt64(1)...300 {
            var random = SplitMix(seed: seed)
            var logs: [[Int32]] = Array(repeating: [], count: 3)
            var caches = Array(repeating: LeaderEpochCache(), count: 3)
            for epoch in Int32(0)..<12 {
                let leader = Int(random.next() % 3)
                caches[leader].assign(epoch: epoch, startOffset: Int64(logs[leader].count))
                for _ in 0..<Int(random.next() % 4) { logs[leader].append(epoch) }
                for follower in 0..<3 where follower != leader && random.next() % 3 != 0 {
                    reconcile(&logs[follower], &caches[follower], with: logs[leader], caches[leader], random: &random)
                    let copied = logs[follower]
                    XCTAssertEqual(
                        Array(logs[leader].prefix(copied.count)), copied,
                        "seed \(seed) epoch \(epoch): follower \(follower) is not a prefix of leader \(leader)")
                }
                checkLogMatching(logs, seed: seed)
            }
        }
    }

    private func reconcile(
        _ log: inout [Int32], _ cache: inout LeaderEpochCache, with leaderLog: [Int32], _ leader: LeaderEpochCache,
        random: inout SplitMix
    ) {
        for _ in 0..<50 {
            let end = Int64(log.count)
            if let diverging = leader.divergingEpoch(
                lastFetchedEpoch: log.last ?? -1, fetchOffset: end, logEndOffset: Int64(leaderLog.count))
            {
                let target = cache.truncationTarget(leader: diverging, logEndOffset: end, highWatermark: 0)
                log.removeLast(Int(end - target.offset))
                cache.truncateFromEnd(endOffset: target.offset)
                continue
            }
            // Agrees up to its end: copy some (possibly all) of what the leader has beyond it.
            let available = leaderLog.count - log.count
            guard available > 0 else { return }
            let count = 1 + Int(random.next() % UInt64(available))
            for offset in log.count..<log.count + count {
                cache.assign(epoch: leaderLog[offset], startOffset: Int64(offset))
                log.append(leaderLog[offset])
            }
            if random.next() % 2 == 0 { return }
        }
        XCTFail("reconciliation did not converge")
    }

    private func checkLogMatching(_ logs: [[Int32]], seed: UInt64) {
        for i in logs.indices {
            for j in logs.indices where i < j {
                let shared = min(logs[i].count, logs[j].count)
                guard let last = (0..<shared).last(where: { logs[i][$0] == logs[j][$0] }) else { continue }
                XCTAssertEqual(
                    Array(logs[i][...last]), Array(logs[j][...last]),
                    "seed \(seed): logs \(i) and \(j) share epoch \(logs[i][last]) at \(last) but differ before")
            }
        }
    }
}

/// A tiny seeded generator (SplitMix64), so a failing seed replays exactly.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
