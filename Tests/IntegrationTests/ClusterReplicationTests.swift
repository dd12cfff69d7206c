import Foundation
import Synchronization
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Replicated partitions with real `ternd` processes: two controller-only nodes (so the metadata
/// quorum survives the loss of any two brokers; one voter alone would be a single-node quorum
/// without a controller listener) and three brokers; a topic with replication factor 3 and
/// `min.insync.replicas=2`. Followers copy the leader's log; `acks=all` is answered only once
/// the high watermark (the minimum fsynced offset over the in-sync set) passes the batch;
/// consumers never read above it; a failover loses no acknowledged record and the old leader
/// truncates what was not committed.
final class ClusterReplicationTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!
    let brokers: [Int32] = [3, 4, 5]
    let topic = "replicated"

    static let settings = [
        "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "300",
        "controller.quorum.election.timeout.ms": "500", "controller.quorum.fetch.timeout.ms": "1000",
    ]

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-replication")
        cluster = try ClusterProcesses(
            count: 5, directory: directory.path, settings: Self.settings,
            roles: ["controller", "controller", "broker", "broker", "broker"])
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    /// The partition's leader and ISR as broker `asking` reports them.
    private func partitionState(asking: Int32) -> (leader: Int32, isr: [Int32])? {
        guard let answer = cluster.send(asking, MetadataRequest(topics: [topic]), timeout: 3),
            let t = answer.topics.first(where: { $0.name == topic }), t.errorCode == .none,
            let p = t.partitions.first(where: { $0.partition == 0 })
        else { return nil }
        return (p.leader, p.isr)
    }

    /// Creates the RF=3, min.insync.replicas=2 topic once every broker is registered; returns its leader.
    @discardableResult
    private func createTopic() -> Int32 {
        cluster.waitUntil(60, "three unfenced brokers") {
            (cluster.send(3, MetadataRequest(topics: nil), timeout: 3)?.brokers.count ?? 0) == 3
        }
        var created = false
        cluster.waitUntil(30, "the replicated topic is created") {
            if !created,
                let answer = cluster.send(
                    3,
                    CreateTopicsRequest(topics: [
                        .init(
                            name: topic, numPartitions: 1, replicationFactor: 3,
                            configs: [.init(name: "min.insync.replicas", value: "2")])
                    ]), timeout: 10)
            {
                created = [ErrorCode.none, .topicAlreadyExists].contains(answer.topics.first?.errorCode)
            }
            return created
        }
        var leader: Int32 = -1
        cluster.waitUntil(30, "the partition has a leader and all three replicas in sync") {
            guard let state = partitionState(asking: 3), state.leader > 0, state.isr.count == 3 else { return false }
            leader = state.leader
            return true
        }
        cluster.waitUntil(30, "the leader serves the partition") { consume(leader) != nil }
        return leader
    }

    private func produce(_ nodeId: Int32, values: [String], acks: Int16, timeoutMs: Int32 = 10_000) -> (
        ErrorCode, Int64
    )? {
        let batch = makeBatch(records: values.map { TestRecord(key: nil, value: $0) })
        guard
            let answer = cluster.send(
                nodeId,
                ProduceRequest(
                    acks: acks, timeoutMs: timeoutMs,
                    topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])]),
                timeout: Double(timeoutMs) / 1000 + 5),
            let p = answer.topics.first?.partitions.first
        else { return nil }
        return (p.errorCode, p.baseOffset)
    }

    /// Every record value a consumer reads from `nodeId` from offset 0 (nil on an error).
    private func consume(_ nodeId: Int32) -> (values: [String], highWatermark: Int64)? {
        var values: [String] = []
        var offset: Int64 = 0
        var highWatermark: Int64 = -1
        for _ in 0..<10_000 {
            guard
                let answer = cluster.send(
                    nodeId,
                    FetchRequest(
                        maxWaitMs: 0, minBytes: 0, maxBytes: 4 << 20,
                        topics: [
                            .init(
                                name: topic, partitions: [.init(partition: 0, fetchOffset: offset, maxBytes: 4 << 20)])
                        ]
                    ), timeout: 5),
                let p = answer.topics.first?.partitions.first, p.errorCode == .none,
                let records = try? decodeRecords(p.records, minOffset: offset)
            else { return nil }
            highWatermark = p.highWatermark
            if records.isEmpty { return (values, highWatermark) }
            for r in records { values.append(String(decoding: r.value ?? [], as: UTF8.self)) }
            offset = (records.last?.offset ?? offset) + 1
        }
        return (values, highWatermark)
    }

    /// The record values in a stopped broker's log directory for the partition, in offset order.
    private func valuesOnDisk(_ nodeId: Int32) throws -> [String] {
        try recordsOnDisk(partitionDirectory: cluster.node(nodeId).dataDirectory + "/\(topic)-0").map { $0.value }
    }

    /// The partition's log end on `nodeId` (DescribeLogDirs), or nil.
    private func logEnd(_ nodeId: Int32) -> Int64? {
        cluster.send(nodeId, DescribeLogDirsRequest(topics: [topic]), timeout: 3)?.logDirs.flatMap(\.topics)
            .first { $0.name == topic }?.partitions.first { $0.partition == 0 }?.logEndOffset
    }

    // MARK: Tests

    /// An acks=all stream is answered, and every follower's log holds exactly the leader's records.
    func testAcksAllStreamIsCopiedToEveryFollower() throws {
        let leader = createTopic()
        var produced: [String] = []
        for batch in 0..<60 {
            let values = (0..<50).map { "r-\(batch)-\($0)" }
            guard let (code, base) = produce(leader, values: values, acks: -1) else {
                return XCTFail("no answer to an acks=all produce\n\(cluster.logs)")
            }
            XCTAssertEqual(code, .none)
            XCTAssertEqual(base, Int64(produced.count))
            produced += values
        }
        let visible = try XCTUnwrap(consume(leader))
        XCTAssertEqual(visible.values, produced, "the leader's consumers see every acknowledged record")
        XCTAssertEqual(visible.highWatermark, Int64(produced.count))
        for follower in brokers where follower != leader {
            XCTAssertNil(consume(follower), "a follower does not serve consumers")
            cluster.waitUntil(20, "follower \(follower) copies the whole log") {
                logEnd(follower) == Int64(produced.count)
            }
            cluster.process(follower)?.stop(timeout: 20)
            XCTAssertEqual(try valuesOnDisk(follower), produced, "follower \(follower) holds the leader's log")
        }
        // The leader writes its high watermark at shutdown (replication-offset-checkpoint), so a
        // restart does not begin from 0.
        cluster.process(leader)?.stop(timeout: 20)
        let checkpoint = try String(
            contentsOfFile: cluster.node(leader).dataDirectory + "/replication-offset-checkpoint", encoding: .utf8)
        XCTAssertTrue(
            checkpoint.split(separator: "\n").contains("\(topic) 0 \(produced.count)"), "checkpoint: \(checkpoint)")
    }

    /// A consumer never reads above the high watermark: with both followers frozen an acks=1
    /// record is appended but invisible (and ListOffsets does not count it); once they run
    /// again, it becomes visible.
    func testConsumerNeverSeesRecordAboveHighWatermark() throws {
        let leader = createTopic()
        XCTAssertEqual(produce(leader, values: ["committed"], acks: -1)?.0, ErrorCode.none)
        let followers = brokers.filter { $0 != leader }
        for f in followers { cluster.pause(f) }
        defer { for f in followers { cluster.resume(f) } }
        // Checked well inside broker.session.timeout.ms, before the controller could drop the
        // frozen followers from the ISR (which would legitimately commit the record).
        XCTAssertEqual(
            produce(leader, values: ["pending"], acks: 1)?.0, ErrorCode.none, "acks=1 is answered once appended")
        let seen = try XCTUnwrap(consume(leader))
        XCTAssertEqual(seen.values, ["committed"], "the uncommitted record is not visible")
        XCTAssertEqual(seen.highWatermark, 1)
        let latest = cluster.send(
            leader, ListOffsetsRequest(topics: [.init(name: topic, partitions: [.init(partition: 0, timestamp: -1)])]),
            timeout: 10)
        XCTAssertEqual(latest?.topics.first?.partitions.first?.offset, 1, "latest is the high watermark")
        for f in followers { cluster.resume(f) }
        cluster.waitUntil(20, "the record becomes visible once the followers have it") {
            consume(leader)?.values == ["committed", "pending"]
        }
    }

    /// With two of three brokers down the controller shrinks the ISR to the leader: acks=all is
    /// refused with NOT_ENOUGH_REPLICAS (nothing appended), acks=1 is accepted; once they are
    /// back and caught up the ISR heals and acks=all is answered again.
    func testTwoOfThreeDownRefusesAcksAll() throws {
        let leader = createTopic()
        XCTAssertEqual(produce(leader, values: ["before"], acks: -1)?.0, ErrorCode.none)
        let followers = brokers.filter { $0 != leader }
        for f in followers { cluster.kill9(f) }
        cluster.waitUntil(30, "the ISR shrinks to the leader") { partitionState(asking: leader)?.isr == [leader] }
        XCTAssertEqual(produce(leader, values: ["refused"], acks: -1)?.0, .notEnoughReplicas)
        XCTAssertEqual(produce(leader, values: ["accepted"], acks: 1)?.0, ErrorCode.none)
        cluster.waitUntil(10, "the acks=1 record is visible (the ISR is the leader alone)") {
            consume(leader)?.values == ["before", "accepted"]
        }
        // Back: they catch up, the leader proposes them for the ISR (AlterPartition), acks=all works.
        for f in followers { try cluster.start(f) }
        cluster.waitUntil(40, "the ISR heals") { partitionState(asking: leader)?.isr.count == 3 }
        XCTAssertEqual(produce(leader, values: ["after"], acks: -1)?.0, ErrorCode.none)
        XCTAssertEqual(consume(leader)?.values, ["before", "accepted", "after"])
    }

    /// kill -9 of the leader in the middle of an acks=all stream: after failover every
    /// acknowledged record is on the new leader exactly once and in order, and the old leader,
    /// restarted, rejoins as a follower and ends up with the same log.
    func testLeaderKilledMidStreamLosesNoAcknowledgedRecord() throws {
        let first = createTopic()
        let acked = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let ports = Dictionary(uniqueKeysWithValues: brokers.map { ($0, cluster.node($0).clientPort) })
        let topic = self.topic
        let producer = Thread {
            var target = first
            var n = 0
            while !stop.load(ordering: .relaxed) {
                let values = (0..<10).map { "v-\(n)-\($0)" }
                n += 1
                let batch = makeBatch(records: values.map { TestRecord(key: nil, value: $0) })
                let request = ProduceRequest(
                    acks: -1, timeoutMs: 5000,
                    topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])])
                if let c = try? RawConnection(port: ports[target]!, timeout: 8),
                    let (status, answer) = try? c.roundTrip(request), status.errorCode == .none,
                    answer?.topics.first?.partitions.first?.errorCode == ErrorCode.none
                {
                    acked.withLock { $0 += values }
                    continue
                }
                // Not acknowledged: ask the brokers who leads now and try there.
                usleep(100_000)
                for id in ports.keys.sorted() {
                    guard let c = try? RawConnection(port: ports[id]!, timeout: 2),
                        let (_, m) = try? c.roundTrip(MetadataRequest(topics: [topic])),
                        let leader = m?.topics.first?.partitions.first?.leader, leader > 0, ports[leader] != nil
                    else { continue }
                    target = leader
                    break
                }
            }
        }
        producer.start()
        defer { stop.store(true, ordering: .relaxed) }
        cluster.waitUntil(30, "the stream has 300 acknowledged records") { acked.withLock { $0.count } >= 300 }
        cluster.kill9(first)
        let atKill = acked.withLock { $0.count }
        cluster.waitUntil(40, "the stream goes on after the failover") { acked.withLock { $0.count } >= atKill + 300 }
        stop.store(true, ordering: .relaxed)
        while producer.isExecuting { usleep(10_000) }
        var leader: Int32 = -1
        cluster.waitUntil(10, "a new leader") {
            leader = partitionState(asking: brokers.first { $0 != first }!)?.leader ?? -1
            return leader > 0 && leader != first
        }
        let ackedValues = acked.withLock { $0 }
        let onLeader = try XCTUnwrap(consume(leader)).values
        XCTAssertEqual(Set(onLeader).count, onLeader.count, "no record twice")
        let position = Dictionary(uniqueKeysWithValues: onLeader.enumerated().map { ($1, $0) })
        let missing = ackedValues.filter { position[$0] == nil }
        XCTAssertEqual(missing, [], "every acknowledged record survives the failover")
        let order = ackedValues.compactMap { position[$0] }
        XCTAssertEqual(order, order.sorted(), "acknowledged records keep their order")

        try cluster.start(first)
        let end = Int64(onLeader.count)
        cluster.waitUntil(40, "the old leader rejoins as a follower and copies the new leader's log") {
            logEnd(first) == end
        }
        cluster.waitUntil(30, "the old leader is back in the ISR") { partitionState(asking: leader)?.isr.count == 3 }
        cluster.process(first)?.stop(timeout: 20)
        let rejoined = try valuesOnDisk(first)
        XCTAssertEqual(
            Array(onLeader.prefix(rejoined.count)), rejoined, "the old leader's log is a prefix of the new leader's")
        XCTAssertGreaterThanOrEqual(rejoined.count, atKill, "the old leader kept or re-fetched what was committed")
    }

    /// A leader frozen (SIGSTOP) past broker.session.timeout.ms loses its leadership; when it
    /// runs again (SIGCONT) it never shows a consumer what it had not committed, becomes a
    /// follower of the new leader and truncates its uncommitted records before copying.
    func testPausedLeaderBecomesFollowerAndTruncates() throws {
        let old = createTopic()
        XCTAssertEqual(produce(old, values: ["c1"], acks: -1)?.0, ErrorCode.none)
        let followers = brokers.filter { $0 != old }
        // Records the old leader appends but nobody else gets: both followers frozen briefly
        // (well inside the session timeout, so they stay in the ISR). The fetch each had parked
        // on the leader is answered with the first append (u0), which they may therefore still
        // get; nothing after it can reach them.
        for f in followers { cluster.pause(f) }
        XCTAssertEqual(produce(old, values: ["u0"], acks: 1)?.0, ErrorCode.none)
        usleep(300_000)
        XCTAssertEqual(produce(old, values: ["u1"], acks: 1)?.0, ErrorCode.none)
        XCTAssertEqual(produce(old, values: ["u2"], acks: 1)?.0, ErrorCode.none)
        XCTAssertEqual(logEnd(old), 4)
        cluster.pause(old)
        for f in followers { cluster.resume(f) }
        defer { cluster.resume(old) }
        var leader: Int32 = -1
        cluster.waitUntil(30, "a follower takes over from the frozen leader") {
            leader = partitionState(asking: followers[0])?.leader ?? -1
            return leader > 0 && leader != old
        }
        cluster.waitUntil(20, "the new leader serves the partition") { consume(leader) != nil }
        XCTAssertEqual(produce(leader, values: ["n1"], acks: -1)?.0, ErrorCode.none)
        let committed = try XCTUnwrap(consume(leader)).values
        XCTAssertEqual(committed.first, "c1")
        XCTAssertEqual(committed.last, "n1")
        XCTAssertFalse(
            committed.contains("u1") || committed.contains("u2"), "records no follower got are not committed")

        cluster.resume(old)
        // Whatever it still believes, the old leader shows consumers only committed records.
        if let seen = consume(old) {
            XCTAssertEqual(Array(committed.prefix(seen.values.count)), seen.values)
            XCTAssertFalse(seen.values.contains("u1") || seen.values.contains("u2"))
        }
        cluster.waitUntil(30, "the old leader follows the new one, truncates and copies its log") {
            logEnd(old) == Int64(committed.count) && cluster.log(old).contains("truncating a diverging log")
        }
        XCTAssertNil(consume(old), "the old leader no longer serves consumers")
        cluster.process(old)?.stop(timeout: 20)
        XCTAssertEqual(try valuesOnDisk(old), committed, "its uncommitted records are gone")
    }
}
