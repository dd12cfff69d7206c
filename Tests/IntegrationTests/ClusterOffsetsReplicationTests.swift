import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// `__consumer_offsets` replicated on three real brokers (two more processes are the controller
/// quorum, so brokers can die while the metadata keeps moving): an offset commit is answered only
/// once it is on every in-sync replica, so a `kill -9` of the coordinator's broker right after
/// the answer loses nothing — the new coordinator serves that offset and a group consumer
/// resumes from it — and a commit that cannot reach `min.insync.replicas` is refused, never
/// answered and then lost.
final class ClusterOffsetsReplicationTests: XCTestCase {
    static let offsetsPartitions: Int32 = 3
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!
    let brokers: [Int32] = [3, 4, 5]
    let topic = "events"

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-offsets")
        var settings = ClusterReplicationTests.settings
        settings["offsets.topic.num.partitions"] = "\(Self.offsetsPartitions)"
        settings["min.insync.replicas"] = "2"
        settings["offsets.commit.timeout.ms"] = "3000"
        settings["group.min.session.timeout.ms"] = "500"
        settings["group.consumer.heartbeat.interval.ms"] = "200"
        cluster = try ClusterProcesses(
            count: 5, directory: directory.path, settings: settings,
            roles: ["controller", "controller", "broker", "broker", "broker"])
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    private func send<R: WireRequest>(_ nodeId: Int32, _ request: R, timeout: TimeInterval = 10) -> R.Response? {
        guard let connection = try? RawConnection(port: cluster.node(nodeId).clientPort, timeout: timeout),
            let (status, response) = try? connection.roundTrip(request), status.errorCode == .none
        else { return nil }
        return response
    }

    private func waitUntil(
        _ seconds: Double, _ message: String, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () -> Bool
    ) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return }
            usleep(50_000)
        }
        XCTFail("\(message) within \(seconds) s\n\(cluster.logs)", file: file, line: line)
    }

    private func offsetsPartition(_ group: String) -> Int32 {
        (Murmur2.hash(Array(group.utf8)) & 0x7fff_ffff) % Self.offsetsPartitions
    }

    /// The group's `__consumer_offsets` partition as broker `asking` describes it.
    private func offsetsState(_ group: String, asking: Int32) -> (leader: Int32, isr: [Int32])? {
        guard let answer = send(asking, MetadataRequest(topics: ["__consumer_offsets"]), timeout: 3),
            let t = answer.topics.first, t.errorCode == .none,
            let p = t.partitions.first(where: { $0.partition == offsetsPartition(group) })
        else { return nil }
        return (p.leader, p.isr)
    }

    /// Three brokers, the RF=3 `events` topic with 100 records, and `__consumer_offsets` with
    /// every partition's three replicas in sync; returns the group's coordinator.
    private func setUpGroup(_ group: String) throws -> Int32 {
        waitUntil(60, "three unfenced brokers") {
            (send(3, MetadataRequest(topics: nil), timeout: 3)?.brokers.count ?? 0) == 3
        }
        var created = false
        waitUntil(30, "the topic is created") {
            if !created,
                let answer = send(
                    3, CreateTopicsRequest(topics: [.init(name: topic, numPartitions: 1, replicationFactor: 3)]))
            {
                created = [ErrorCode.none, .topicAlreadyExists].contains(answer.topics.first?.errorCode)
            }
            return created
        }
        var coordinator: Int32 = -1
        waitUntil(30, "the group has a coordinator") {
            guard let found = send(3, FindCoordinatorRequest(key: group)), found.errorCode == .none else {
                return false
            }
            coordinator = found.nodeId
            return true
        }
        waitUntil(30, "the group's offsets partition has three in-sync replicas") {
            guard let state = offsetsState(group, asking: 3) else { return false }
            coordinator = state.leader
            return state.isr.count == 3
        }
        return coordinator
    }

    private func commit(_ nodeId: Int32, _ group: String, _ offset: Int64) -> OffsetCommitResponse? {
        send(
            nodeId,
            OffsetCommitRequest(
                groupId: group, memberId: "", memberEpoch: OffsetCommitRequest.noMemberEpoch,
                topics: [.init(name: topic, partitions: [.init(partition: 0, offset: offset)])]),
            timeout: 15)
    }

    /// The error of a commit, the partition's when the request itself succeeded.
    private func commitError(_ answer: OffsetCommitResponse?) -> ErrorCode? {
        guard let answer else { return nil }
        return answer.errorCode != .none ? answer.errorCode : answer.topics.first?.partitions.first?.errorCode
    }

    /// A commit at the coordinator, asked again (bounded) while it is still loading.
    private func commitAtCoordinator(_ nodeId: Int32, _ group: String, _ offset: Int64) -> ErrorCode? {
        var code: ErrorCode?
        waitUntil(30, "node \(nodeId) answers the commit of \(offset)") {
            code = commitError(commit(nodeId, group, offset))
            return code.map { ![.notCoordinator, .coordinatorLoadInProgress].contains($0) } ?? false
        }
        return code
    }

    /// The committed offset of events-0 at `nodeId` (-1: none), nil while it does not serve it.
    private func fetchOffset(_ nodeId: Int32, _ group: String) -> Int64? {
        guard
            let answer = send(
                nodeId, OffsetFetchRequest(groupId: group, topics: [.init(name: topic, partitions: [0])]), timeout: 5),
            answer.errorCode == .none, let p = answer.topics.first?.partitions.first, p.errorCode == .none
        else { return nil }
        return p.offset
    }

    /// The group's coordinator among `live` once it moved there, and the offset it serves.
    private func offsetAtNewCoordinator(_ group: String, live: [Int32]) -> (Int32, Int64)? {
        var served: (Int32, Int64)?
        waitUntil(60, "a live broker coordinates the group and serves its offsets") {
            guard let found = send(live[0], FindCoordinatorRequest(key: group), timeout: 3), found.errorCode == .none,
                live.contains(found.nodeId), let offset = fetchOffset(found.nodeId, group)
            else { return false }
            served = (found.nodeId, offset)
            return true
        }
        return served
    }

    // MARK: Tests

    /// Commits answered one after the other, then `kill -9` of the coordinator's broker at once
    /// after the last answer: the new coordinator (another replica of the partition) serves
    /// exactly the last committed offset, and a group consumer resumes from it.
    func testCommitAnsweredBeforeCoordinatorKillIsServedByTheNewCoordinator() async throws {
        let group = "resumers"
        let coordinator = try setUpGroup(group)
        let bootstrap = brokers.map { cluster.node($0).bootstrap }
        let client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: bootstrap, requestTimeout: .seconds(10)))
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        for i in 0..<100 { _ = try await producer.send(topic: topic, key: nil, value: Array("r\(i)".utf8)) }
        try await producer.flush()
        await producer.close()

        for offset in Int64(1)...20 {
            XCTAssertEqual(commitAtCoordinator(coordinator, group, offset), ErrorCode.none, "commit of \(offset)")
        }
        XCTAssertEqual(commitError(commit(coordinator, group, 61)), ErrorCode.none)
        cluster.kill9(coordinator)

        let live = brokers.filter { $0 != coordinator }
        let (moved, served) = try XCTUnwrap(offsetAtNewCoordinator(group, live: live))
        XCTAssertEqual(served, 61, "node \(moved), the new coordinator, serves the last answered commit")

        // A group consumer resumes from the committed offset: its first record is offset 61.
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(100), autoOffsetReset: .earliest, groupId: group,
                sessionTimeout: .seconds(6), enableAutoCommit: false))
        try await consumer.subscribe(topics: [topic])
        var first: ConsumerRecord?
        let deadline = ContinuousClock.now + .seconds(60)
        while first == nil && ContinuousClock.now < deadline {
            first = try await consumer.poll(timeout: .milliseconds(200)).first
        }
        XCTAssertEqual(first?.offset, 61)
        XCTAssertEqual(first.map { String(decoding: $0.value ?? [], as: UTF8.self) }, "r61")
        await consumer.close()
        await client.close()
    }

    /// With the two other replicas of the group's offsets partition killed, a commit is refused
    /// (COORDINATOR_NOT_AVAILABLE, which clients retry), never answered: one made while the dead
    /// replicas are still in the in-sync set waits for the high watermark and is refused at its
    /// timeout; once the set shrank to the coordinator alone, one is refused before it is
    /// written. The last answered commit stays served throughout, and after the replicas come
    /// back and catch up, commits are answered again and survive a `kill -9` of the coordinator.
    func testCommitWithTwoOfThreeDownIsRefusedNotAnsweredThenLost() throws {
        let group = "stranded"
        let coordinator = try setUpGroup(group)
        XCTAssertEqual(commitAtCoordinator(coordinator, group, 7), ErrorCode.none)
        let others = brokers.filter { $0 != coordinator }
        for other in others { cluster.kill9(other) }

        // Refused whether or not the dead replicas have left the in-sync set yet.
        XCTAssertEqual(commitError(commit(coordinator, group, 8)), .coordinatorNotAvailable)
        waitUntil(30, "the offsets partition's in-sync set shrinks to the coordinator") {
            offsetsState(group, asking: coordinator)?.isr == [coordinator]
        }
        var refused: ErrorCode?
        waitUntil(30, "the coordinator answers the commit of 9 (it may be reloading)") {
            refused = commitError(commit(coordinator, group, 9))
            return refused != .coordinatorLoadInProgress
        }
        XCTAssertEqual(refused, .coordinatorNotAvailable, "a commit below min.insync.replicas is refused")
        var served: Int64?
        waitUntil(30, "the coordinator serves the group") {
            served = fetchOffset(coordinator, group)
            return served != nil
        }
        // 8 was written before its refusal and may have committed once the set shrank; 9 was
        // never written.
        XCTAssertTrue(served == 7 || served == 8, "served \(String(describing: served))")

        for other in others { try cluster.start(other) }
        waitUntil(60, "the in-sync set heals") { offsetsState(group, asking: coordinator)?.isr.count == 3 }
        XCTAssertEqual(commitAtCoordinator(coordinator, group, 10), ErrorCode.none)
        cluster.kill9(coordinator)
        let (_, after) = try XCTUnwrap(offsetAtNewCoordinator(group, live: others))
        XCTAssertEqual(after, 10, "the commit answered after the heal survives the coordinator's kill")
    }
}
