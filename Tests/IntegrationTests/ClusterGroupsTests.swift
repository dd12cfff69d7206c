import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Consumer groups on three real `ternd` processes: a group's coordinator is the leader of its
/// `__consumer_offsets` partition, every broker says so, the others refuse its requests with
/// NOT_COORDINATOR, the listing gathers every broker's groups, a group consumer follows its
/// coordinator through a `kill -9`, and a broker that comes to lead an offsets partition serves
/// the commits its own log holds.
final class ClusterGroupsTests: XCTestCase {
    static let offsetsPartitions: Int32 = 6
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    func startCluster(offsetsReplicationFactor: Int? = nil) throws {
        directory = TemporaryDirectory("tern-cluster-groups")
        var settings = ClusterQuorumTests.settings
        settings["offsets.topic.num.partitions"] = "\(Self.offsetsPartitions)"
        settings["group.min.session.timeout.ms"] = "500"
        settings["group.consumer.heartbeat.interval.ms"] = "200"
        if let offsetsReplicationFactor { settings["offsets.topic.replication.factor"] = "\(offsetsReplicationFactor)" }
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: settings)
    }

    // MARK: Helpers

    /// One request to one node on a fresh connection; nil when it does not answer in time.
    func send<R: WireRequest>(_ nodeId: Int32, _ request: R, timeout: TimeInterval = 20) -> R.Response? {
        guard let connection = try? RawConnection(port: cluster.node(nodeId).clientPort, timeout: timeout),
            let (status, response) = try? connection.roundTrip(request), status.errorCode == .none
        else { return nil }
        return response
    }

    /// Polls every 100 ms until `condition` holds or `seconds` pass; fails with the logs.
    func waitUntil(
        _ seconds: Double, _ message: String, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () -> Bool
    ) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return }
            usleep(100_000)
        }
        XCTFail("\(message) within \(seconds) s\n\(cluster.logs)", file: file, line: line)
    }

    func waitForBrokers(_ count: Int, askingNode nodeId: Int32) {
        waitUntil(60, "node \(nodeId) sees \(count) unfenced brokers and a controller") {
            guard let answer = send(nodeId, MetadataRequest(topics: nil), timeout: 5) else { return false }
            return answer.brokers.count == count && answer.controllerId >= 0
        }
    }

    /// The group's `__consumer_offsets` partition, as Kafka computes it.
    func offsetsPartition(_ group: String) -> Int32 {
        (Murmur2.hash(Array(group.utf8)) & 0x7fff_ffff) % Self.offsetsPartitions
    }

    /// `__consumer_offsets` as node `nodeId` describes it.
    func offsetsTopic(_ nodeId: Int32) -> MetadataResponse.Topic? {
        send(nodeId, MetadataRequest(topics: ["__consumer_offsets"]), timeout: 5)?.topics.first.flatMap {
            $0.errorCode == .none ? $0 : nil
        }
    }

    /// `__consumer_offsets` once every live node's image has it, as node `nodeId` describes it.
    func offsetsTopicEverywhere(_ nodeId: Int32, live: [Int32] = [1, 2, 3]) -> MetadataResponse.Topic? {
        waitUntil(30, "every node knows __consumer_offsets") { live.allSatisfy { offsetsTopic($0) != nil } }
        return offsetsTopic(nodeId)
    }

    func findCoordinator(_ nodeId: Int32, _ group: String) -> FindCoordinatorResponse? {
        send(nodeId, FindCoordinatorRequest(key: group))
    }

    func createTopic(_ name: String, partitions: Int32) {
        let created = send(1, CreateTopicsRequest(topics: [.init(name: name, numPartitions: partitions)]))
        XCTAssertEqual(created?.topics.first?.errorCode, ErrorCode.none, "\(String(describing: created))")
    }

    func commit(_ nodeId: Int32, _ group: String, _ offsets: [Int32: Int64], topic: String = "orders")
        -> OffsetCommitResponse?
    {
        send(
            nodeId,
            OffsetCommitRequest(
                groupId: group, memberId: "", memberEpoch: OffsetCommitRequest.noMemberEpoch,
                topics: [
                    .init(
                        name: topic,
                        partitions: offsets.sorted { $0.key < $1.key }.map {
                            .init(partition: $0.key, offset: $0.value)
                        })
                ]))
    }

    /// A commit at the group's coordinator, asked again (bounded) while that broker has not yet
    /// applied the image that makes it the coordinator, or is still loading: what a client does.
    func commitAtCoordinator(_ nodeId: Int32, _ group: String, _ offsets: [Int32: Int64]) -> OffsetCommitResponse? {
        var answer: OffsetCommitResponse?
        waitUntil(30, "node \(nodeId) takes the commit of \(group)") {
            answer = commit(nodeId, group, offsets)
            return answer.map { ![.notCoordinator, .coordinatorLoadInProgress].contains($0.errorCode) } ?? false
        }
        return answer
    }

    func fetchOffsets(_ nodeId: Int32, _ group: String, _ partitions: [Int32], topic: String = "orders")
        -> OffsetFetchResponse?
    {
        send(nodeId, OffsetFetchRequest(groupId: group, topics: [.init(name: topic, partitions: partitions)]))
    }

    // MARK: Tests

    func testEveryBrokerNamesTheOffsetsPartitionLeaderAndTheOthersRefuseTheGroup() async throws {
        try startCluster()
        for id in [Int32(1), 2, 3] { waitForBrokers(3, askingNode: id) }
        createTopic("orders", partitions: 2)
        // The first FindCoordinator creates __consumer_offsets, with 3 replicas (3 live brokers).
        let first = try XCTUnwrap(findCoordinator(2, "warm-up"))
        XCTAssertEqual(first.errorCode, .none, first.errorMessage ?? "")
        let offsets = try XCTUnwrap(offsetsTopicEverywhere(1))
        XCTAssertEqual(offsets.partitions.count, Int(Self.offsetsPartitions))
        for partition in offsets.partitions {
            XCTAssertEqual(partition.replicas.count, 3, "offsets.topic.replication.factor 3 with 3 live brokers")
        }
        let leaders = Dictionary(uniqueKeysWithValues: offsets.partitions.map { ($0.partition, $0.leader) })

        // Every broker names the leader of the group's partition, at its own client port.
        let groups = (0..<12).map { "group-\($0)" }
        for group in groups {
            let leader = try XCTUnwrap(leaders[offsetsPartition(group)])
            for asked in [Int32(1), 2, 3] {
                let found = try XCTUnwrap(findCoordinator(asked, group), "node \(asked) did not answer")
                XCTAssertEqual(found.errorCode, .none, found.errorMessage ?? "")
                XCTAssertEqual(found.nodeId, leader, "node \(asked) names the coordinator of \(group)")
                XCTAssertEqual(found.port, Int32(cluster.node(leader).clientPort))
            }
        }

        // One group per coordinating broker; the others refuse each with NOT_COORDINATOR.
        var byCoordinator: [Int32: String] = [:]
        for group in groups where byCoordinator[leaders[offsetsPartition(group)] ?? -1] == nil {
            byCoordinator[leaders[offsetsPartition(group)] ?? -1] = group
        }
        XCTAssertGreaterThan(byCoordinator.count, 1, "the offsets partitions' leaders are spread: \(leaders)")
        for (coordinator, group) in byCoordinator.sorted(by: { $0.key < $1.key }) {
            for other in [Int32(1), 2, 3] where other != coordinator {
                let refused = try XCTUnwrap(commit(other, group, [0: 5]))
                XCTAssertEqual(refused.errorCode, .notCoordinator, "commit of \(group) at node \(other)")
                XCTAssertEqual(fetchOffsets(other, group, [0])?.errorCode, .notCoordinator)
                XCTAssertEqual(
                    send(other, DescribeGroupsRequest(groupIds: [group]))?.groups.first?.errorCode, .notCoordinator)
                let join = send(
                    other,
                    ConsumerGroupHeartbeatRequest(
                        groupId: group, memberId: "", memberEpoch: 0, sessionTimeoutMs: 3000,
                        subscribedTopics: ["orders"], ownedPartitions: []))
                XCTAssertEqual(join?.errorCode, .notCoordinator, "join of \(group) at node \(other)")
            }
            let committed = try XCTUnwrap(commitAtCoordinator(coordinator, group, [0: Int64(coordinator) * 10]))
            XCTAssertEqual(committed.errorCode, .none, committed.errorMessage ?? "")
            XCTAssertEqual(committed.topics.first?.partitions.first?.errorCode, ErrorCode.none)
            let read = try XCTUnwrap(fetchOffsets(coordinator, group, [0]))
            XCTAssertEqual(read.topics.first?.partitions.first?.offset, Int64(coordinator) * 10)
        }

        // ListGroups: each broker its own; the SDK's listing and `tern group list` gather all.
        for (coordinator, group) in byCoordinator {
            let listed = send(coordinator, ListGroupsRequest())?.groups.map(\.groupId) ?? []
            XCTAssertEqual(listed, [group], "node \(coordinator) lists the groups it coordinates")
        }
        let client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: [cluster.node(1).bootstrap], requestTimeout: .seconds(10)))
        let all = try await client.admin.listGroups().map(\.groupId)
        XCTAssertEqual(all, byCoordinator.values.sorted())
        await client.close()
        let listed = try runCommand(
            Binaries.path("tern"), ["--bootstrap", cluster.node(1).bootstrap, "group", "list", "--json"], timeout: 30)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        for group in byCoordinator.values { XCTAssertTrue(listed.stdout.contains("\"\(group)\""), listed.stdout) }
    }

    /// A broker that comes to lead an offsets partition (here: the sole replica, restarted) loads
    /// its groups from its own log; while the partition has no leader every broker answers
    /// COORDINATOR_NOT_AVAILABLE and none serves the group.
    func testABrokerThatComesToLeadAnOffsetsPartitionServesTheCommitsOfItsLog() throws {
        try startCluster(offsetsReplicationFactor: 1)
        for id in [Int32(1), 2, 3] { waitForBrokers(3, askingNode: id) }
        createTopic("orders", partitions: 2)
        XCTAssertEqual(findCoordinator(1, "warm-up")?.errorCode, ErrorCode.none)
        let offsets = try XCTUnwrap(offsetsTopicEverywhere(1))
        XCTAssertTrue(offsets.partitions.allSatisfy { $0.replicas.count == 1 })
        // A group coordinated by a broker other than node 1 (node 1 stays up to be asked).
        let group = try XCTUnwrap(
            (0..<100).map { "group-\($0)" }.first { g in
                offsets.partitions.first { $0.partition == offsetsPartition(g) }.map { $0.leader != 1 } ?? false
            })
        let owner = try XCTUnwrap(offsets.partitions.first { $0.partition == offsetsPartition(group) }?.leader)
        XCTAssertEqual(commitAtCoordinator(owner, group, [0: 42, 1: 43])?.errorCode, ErrorCode.none)

        cluster.process(owner)?.stop()
        waitUntil(30, "the group's offsets partition has no leader") {
            findCoordinator(1, group)?.errorCode == .coordinatorNotAvailable
        }
        XCTAssertEqual(commit(1, group, [0: 1])?.errorCode, .notCoordinator, "node 1 does not lead the partition")

        try cluster.start(owner)
        var served: OffsetFetchResponse?
        waitUntil(60, "the restarted broker leads the partition again and serves the group from its log") {
            guard findCoordinator(1, group)?.nodeId == owner, let answer = fetchOffsets(owner, group, [0, 1]),
                answer.errorCode == .none
            else { return false }
            served = answer
            return true
        }
        XCTAssertEqual(served?.topics.first?.partitions.map(\.offset), [42, 43])
    }

    /// A group consumer keeps consuming and committing after its coordinator is killed: it finds
    /// the new leader of the group's offsets partition and rejoins. (Records polled but not yet
    /// committed when the coordinator dies are read again: records are checked for presence, not
    /// for being read once; ClusterOffsetsReplicationTests checks the committed offset itself.)
    func testAGroupConsumerFollowsItsCoordinatorThroughAKill() async throws {
        try startCluster()
        for id in [Int32(1), 2, 3] { waitForBrokers(3, askingNode: id) }
        createTopic("events", partitions: 1)
        XCTAssertEqual(findCoordinator(1, "warm-up")?.errorCode, ErrorCode.none)
        let dataLeader = try XCTUnwrap(
            send(1, MetadataRequest(topics: ["events"]))?.topics.first?.partitions.first?.leader)
        let offsets = try XCTUnwrap(offsetsTopicEverywhere(1))
        // A group whose coordinator does not hold the data: killing it loses no records.
        let group = try XCTUnwrap(
            (0..<100).map { "consumers-\($0)" }.first { g in
                offsets.partitions.first { $0.partition == offsetsPartition(g) }.map { $0.leader != dataLeader }
                    ?? false
            })
        let coordinator = try XCTUnwrap(findCoordinator(dataLeader, group)?.nodeId)
        XCTAssertNotEqual(coordinator, dataLeader)

        let bootstrap = [Int32(1), 2, 3].map { cluster.node($0).bootstrap }
        let client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: bootstrap, requestTimeout: .seconds(10)))
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        func produce(_ prefix: String) async throws {
            for i in 0..<100 {
                _ = try await producer.send(topic: "events", key: nil, value: Array("\(prefix)\(i)".utf8))
            }
            try await producer.flush()
        }
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(100), autoOffsetReset: .earliest, groupId: group,
                sessionTimeout: .seconds(6), enableAutoCommit: false))
        try await consumer.subscribe(topics: ["events"])
        var seen = Set<String>()
        var commitFailures: [String] = []
        func consume(until wanted: Set<String>, timeout: Duration) async throws {
            let deadline = ContinuousClock.now + timeout
            while !wanted.isSubset(of: seen) && ContinuousClock.now < deadline {
                let records = try await consumer.poll(timeout: .milliseconds(100))
                for r in records { seen.insert(String(decoding: r.value ?? [], as: UTF8.self)) }
                if !records.isEmpty {
                    do { try await consumer.commitSync() } catch { commitFailures.append("\(error)") }
                }
            }
        }
        try await produce("a")
        let before = Set((0..<100).map { "a\($0)" })
        try await consume(until: before, timeout: .seconds(60))
        XCTAssertTrue(before.isSubset(of: seen), "read \(seen.count) of the first 100")
        XCTAssertEqual(commitFailures, [])

        cluster.kill9(coordinator)
        try await produce("b")
        let after = Set((0..<100).map { "b\($0)" })
        let live = [Int32(1), 2, 3].filter { $0 != coordinator }
        // Consumes and commits until every record was read and, once the group's partition has
        // a new leader, the consumer's position (200) is committed there: the consumer rejoined
        // it (the new coordinator knows no member it has not seen) and was assigned the
        // partition again (a consumer that owns nothing commits nothing).
        var moved: Int32 = -1
        var committedAfterMove: Int64 = -1
        let deadline = ContinuousClock.now + .seconds(120)
        while committedAfterMove != 200 && ContinuousClock.now < deadline {
            let records = try await consumer.poll(timeout: .milliseconds(100))
            for r in records { seen.insert(String(decoding: r.value ?? [], as: UTF8.self)) }
            moved = findCoordinator(live[0], group)?.nodeId ?? -1
            guard live.contains(moved), after.isSubset(of: seen) else { continue }
            do {
                try await consumer.commitSync()
            } catch {
                commitFailures.append("\(error)")
                continue
            }
            committedAfterMove =
                fetchOffsets(moved, group, [0], topic: "events")?.topics.first?.partitions.first?.offset ?? -1
        }
        XCTAssertTrue(after.isSubset(of: seen), "read \(after.intersection(seen).count) of the 100 after the kill")
        XCTAssertTrue(live.contains(moved), "the group's coordinator is \(moved)")
        XCTAssertEqual(
            committedAfterMove, 200, "the consumer's position is committed at the new coordinator: \(commitFailures)")
        let described = try await client.admin.describeGroup(group)
        XCTAssertEqual(described.members.count, 1, "the consumer is a member at the new coordinator")
        await consumer.close()
        await producer.close()
        await client.close()
    }
}
