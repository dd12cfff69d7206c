import Logging
import Synchronization
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// What a replica counts as durable: only what its log has fsynced — at its start, after a
/// rebuild, and after it started over below its leader's log start (issue 12's promise: a
/// follower reports as its fetch position only what it has fsynced; the high watermark is the
/// minimum of those over the in-sync set, the leader's own included).
final class PartitionReplicaDurabilityTests: XCTestCase {
    private typealias D = ControllerDecisions

    func state(leader: Int32, epoch: Int32 = 1, isr: [Int32]) -> MetadataImage.Partition {
        MetadataImage.Partition(
            partition: 0, replicas: [1, 2, 3], isr: isr, leader: leader, leaderEpoch: epoch, partitionEpoch: 1)
    }

    func replica(_ id: Int32, logEnd: Int64, durableEnd: Int64, history: LeaderEpochCache = .init())
        -> PartitionReplica
    {
        PartitionReplica(
            config: .init(replicaId: id, minInSyncReplicas: 1, replicaLagTimeMaxMs: 1000), incarnation: 1,
            logEnd: logEnd, durableEnd: durableEnd, history: history)
    }

    /// A follower started over a log whose tail was never fsynced (a process crash kept it in
    /// the page cache) reports only the fsynced part until its flush says more.
    func testStartedFollowerReportsOnlyItsFsyncedOffset() {
        var follower = replica(
            2, logEnd: 10, durableEnd: 4, history: LeaderEpochCache([.init(epoch: 1, startOffset: 0)]))
        let out = follower.step(.partitionState(state(leader: 1, isr: [1, 2])), now: 0)
        guard case .sendFetch(1, let f)? = out.last else { return XCTFail("no fetch: \(out)") }
        XCTAssertEqual(f.fetchOffset, 10)
        XCTAssertEqual(f.durableOffset, 4, "the unsynced tail is not reported durable")
        _ = follower.step(.persisted(upTo: 10), now: 1)
        XCTAssertEqual(follower.durableEnd, 10)
    }

    /// A leader started the same way holds the high watermark (what consumers see and what
    /// answers acks=all) at its fsynced offset, whatever its followers report.
    func testStartedLeaderHoldsTheHighWatermarkAtItsFsyncedOffset() {
        var leader = replica(1, logEnd: 10, durableEnd: 4, history: LeaderEpochCache([.init(epoch: 1, startOffset: 0)]))
        _ = leader.step(.partitionState(state(leader: 1, epoch: 2, isr: [1, 2])), now: 0)
        _ = leader.step(
            .fetch(
                from: 2,
                ReplicaFetch(
                    leaderEpoch: 2, fetchOffset: 10, lastFetchedEpoch: 1, durableOffset: 10, incarnation: 7, sequence: 1
                )),
            now: 1)
        XCTAssertEqual(leader.highWatermark, 4)
        let out = leader.step(.persisted(upTo: 10), now: 2)
        XCTAssertEqual(leader.highWatermark, 10)
        XCTAssertTrue(out.contains(.highWatermark(10)))
    }

    /// OFFSET_OUT_OF_RANGE with the leader's log start past this follower's whole log: it
    /// empties its log, starts there with no epoch history, counts the empty log durable and
    /// fetches from there at once.
    func testFollowerBelowTheLeadersLogStartStartsOverThere() {
        var follower = replica(
            2, logEnd: 5, durableEnd: 5, history: LeaderEpochCache([.init(epoch: 1, startOffset: 0)]))
        var out = follower.step(.partitionState(state(leader: 1, epoch: 3, isr: [1, 3])), now: 0)
        guard case .sendFetch(1, let first)? = out.last else { return XCTFail("no fetch: \(out)") }
        out = follower.step(
            .fetchReply(
                from: 1,
                ReplicaFetchReply(
                    leaderEpoch: 3, highWatermark: 40, incarnation: first.incarnation, sequence: first.sequence,
                    body: .offsetOutOfRange(leaderLogStart: 20))),
            now: 1)
        XCTAssertEqual(out.first, .truncateFully(startAt: 20), "the log is emptied before anything else")
        guard case .sendFetch(1, let next)? = out.last else { return XCTFail("no fetch after starting over: \(out)") }
        XCTAssertEqual(next.fetchOffset, 20)
        XCTAssertEqual(next.lastFetchedEpoch, -1)
        XCTAssertEqual(next.durableOffset, 20)
        XCTAssertEqual(follower.logEnd, 20)
        XCTAssertEqual(follower.history.entries, [])
        XCTAssertLessThanOrEqual(follower.highWatermark, 5, "nothing it holds is newly committed by this")

        // A stale answer (its log already reaches the leader's log start) truncates nothing.
        out = follower.step(
            .fetchReply(
                from: 1,
                ReplicaFetchReply(
                    leaderEpoch: 3, highWatermark: 40, incarnation: next.incarnation, sequence: next.sequence,
                    body: .offsetOutOfRange(leaderLogStart: 20))),
            now: 2)
        XCTAssertFalse(out.contains { if case .truncateFully = $0 { true } else { false } })
        XCTAssertEqual(follower.logEnd, 20)
    }

    /// After retention moved the leader's log start, a follower that started over there (no
    /// records, no epoch) is answered with records, not with a divergence at the old start of
    /// the leader's history — which the wire cannot even carry (-1 means "none"), so the
    /// follower would fetch nothing forever.
    func testLeaderMatchesAFollowerThatStartedOverAtItsLogStart() {
        var leader = replica(
            1, logEnd: 230, durableEnd: 230, history: LeaderEpochCache([.init(epoch: 0, startOffset: 0)]))
        _ = leader.step(.partitionState(state(leader: 1, epoch: 0, isr: [1, 3])), now: 0)
        _ = leader.step(.logStartAdvanced(to: 220), now: 1)
        XCTAssertEqual(leader.history.entries, [.init(epoch: 0, startOffset: 220)])
        let out = leader.step(
            .fetch(
                from: 2,
                ReplicaFetch(
                    leaderEpoch: 0, fetchOffset: 220, lastFetchedEpoch: -1, durableOffset: 220, incarnation: 7,
                    sequence: 1)),
            now: 2)
        guard case .answerFetch(2, let reply)? = out.first(where: { if case .answerFetch = $0 { true } else { false } })
        else { return XCTFail("no answer: \(out)") }
        XCTAssertEqual(reply.body, .records(from: 220, to: 230, batchEpochs: [.init(epoch: 0, startOffset: 220)]))
    }

    // MARK: The host's start of a replica

    private func image() throws -> MetadataImage {
        let image = try MetadataImage.withUnfencedBrokers()
        var generator = SeededGenerator(seed: 11)
        return try image.applying(
            D.createTopic(image, name: "replicated", partitions: 4, replicationFactor: 3, using: &generator))
    }

    /// The broker's replica manager starts each machine over its log at the log's *flushed*
    /// offset: records appended but not fsynced (what a process crash leaves in the page cache,
    /// or what a log held before its partition had replicas) are neither reported to a leader
    /// as durable nor counted for a leader's high watermark. (Before: the whole log end.)
    func testReplicaManagerStartsMachinesAtTheFlushedOffset() throws {
        let directory = TemporaryDirectory("tern-replica-start")
        defer { directory.remove() }
        let logs = try LogManager(
            logDirs: [directory.path], flushMode: .sync,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { try? logs.shutdown() }
        let image = try image()
        let topic = try XCTUnwrap(image.topic(named: "replicated"))
        var led: TopicPartition?
        var followed: TopicPartition?
        for p in topic.partitions.values.sorted(by: { $0.partition < $1.partition }) {
            let tp = TopicPartition("replicated", p.partition)
            let log = try logs.createLog(tp, config: LogConfig())
            _ = try log.appendAsFollower(makeBatch(count: 3, baseOffset: 0))
            try log.flush()
            _ = try log.appendAsFollower(makeBatch(count: 5, baseOffset: 3))  // in the page cache only
            XCTAssertEqual(log.recoveryPoint, 3)
            if p.leader == 1 { led = led ?? tp } else { followed = followed ?? tp }
        }
        let manager = ReplicaManager(
            nodeId: 1, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        _ = manager.apply(
            image, logs: logs, minInSyncReplicas: { _ in 1 }, lagTimeMaxMs: 30_000,
            highWatermarks: [:])

        let follower = try XCTUnwrap(manager.hosted(try XCTUnwrap(followed)))
        let (fetch, followerDurable) = follower.state.withLock { ($0.pendingFetch, $0.machine.durableEnd) }
        XCTAssertEqual(followerDurable, 3)
        XCTAssertEqual(fetch?.fetchOffset, 8)
        XCTAssertEqual(fetch?.durableOffset, 3, "the follower's first fetch reports only what is fsynced")

        let leader = try XCTUnwrap(manager.hosted(try XCTUnwrap(led)))
        let (leaderDurable, hw) = leader.state.withLock { ($0.machine.durableEnd, $0.machine.highWatermark) }
        XCTAssertEqual(leaderDurable, 3)
        XCTAssertLessThanOrEqual(hw, 3, "consumers never see the unsynced tail")
    }
}
