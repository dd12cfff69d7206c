import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Consumer groups through the SDK against a real `ternd`: sharing, commits, resuming, the error
/// codes of bad members and epochs, and a broker restart with groups in place.
final class GroupSDKTests: BrokerTestCase {
    override class var brokerSettings: [String: String] {
        [
            "offsets.topic.num.partitions": "4", "group.min.session.timeout.ms": "500",
            "group.consumer.heartbeat.interval.ms": "200",
        ]
    }

    func client(_ broker: BrokerProcess? = nil) async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(
                bootstrap: [(broker ?? self.broker).bootstrap], requestTimeout: .seconds(10)))
    }

    func produce(_ client: TernClient, topic: String, range: Range<Int>) async throws {
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        for i in range {
            _ = try await producer.send(topic: topic, key: Array("k\(i)".utf8), value: Array("v\(i)".utf8))
        }
        try await producer.flush()
        await producer.close()
    }

    func groupConsumer(_ client: TernClient, group: String = "g", instance: String? = nil) -> TernConsumer {
        client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(100), autoOffsetReset: .earliest, groupId: group, groupInstanceId: instance,
                sessionTimeout: .seconds(3), enableAutoCommit: false))
    }

    /// Polls every consumer, committing after each batch, until `expected` distinct values were seen.
    func consumeUntil(_ consumers: [TernConsumer], expected: Int, timeout: Duration = .seconds(60)) async throws
        -> Set<String>
    {
        var seen = Set<String>()
        let deadline = ContinuousClock.now + timeout
        while seen.count < expected && ContinuousClock.now < deadline {
            for consumer in consumers {
                let records = try await consumer.poll(timeout: .milliseconds(50))
                for r in records { seen.insert(String(decoding: r.value ?? [], as: UTF8.self)) }
                if !records.isEmpty { try await consumer.commitSync() }
            }
        }
        return seen
    }

    func waitFor(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("timed out waiting for \(what)")
    }

    func testThreeConsumersShareSixPartitionsAndANewMemberResumesFromTheCommits() async throws {
        let admin = try await client()
        try await admin.admin.createTopic(name: "orders", partitions: 6)
        try await produce(admin, topic: "orders", range: 0..<600)
        var clients: [TernClient] = []
        var consumers: [TernConsumer] = []
        for _ in 0..<3 {
            let c = try await client()
            clients.append(c)
            let consumer = groupConsumer(c)
            try await consumer.subscribe(topics: ["orders"])
            consumers.append(consumer)
        }
        try await waitFor("two partitions each") {
            let d = try await admin.admin.describeGroup("g")
            return d.state == "Stable" && d.members.count == 3 && d.members.allSatisfy { $0.assignment.count == 2 }
        }
        let seen = try await consumeUntil(consumers, expected: 600)
        XCTAssertEqual(seen, Set((0..<600).map { "v\($0)" }))
        for consumer in consumers { await consumer.close() }
        let afterClose = try await admin.admin.describeGroup("g")
        XCTAssertEqual(afterClose.state, "Empty")
        XCTAssertEqual(afterClose.partitions.compactMap(\.committedOffset).reduce(0, +), 600)
        XCTAssertEqual(afterClose.partitions.compactMap(\.lag).reduce(0, +), 0)

        try await produce(admin, topic: "orders", range: 600..<660)
        let next = groupConsumer(clients[0])
        try await next.subscribe(topics: ["orders"])
        let resumed = try await consumeUntil([next], expected: 60)
        XCTAssertEqual(resumed, Set((600..<660).map { "v\($0)" }), "starts at the committed offsets, not at earliest")
        await next.close()
        for c in clients { await c.close() }
        await admin.close()
    }

    func testBadMembersEpochsAndResetsGetTheirOwnErrorCodesAndChangeNothing() async throws {
        let client = try await client()
        try await client.admin.createTopic(name: "t", partitions: 2)
        func heartbeat(_ memberId: String, _ epoch: Int32, session: Int32 = 3000) async throws
            -> ConsumerGroupHeartbeatResponse
        {
            try await client.send(
                ConsumerGroupHeartbeatRequest(
                    groupId: "g", memberId: memberId, memberEpoch: epoch, sessionTimeoutMs: session,
                    subscribedTopics: ["t"], ownedPartitions: []), to: 0)
        }
        func commit(_ memberId: String, _ epoch: Int32, offset: Int64 = 5) async throws -> ErrorCode {
            try await client.send(
                OffsetCommitRequest(
                    groupId: "g", memberId: memberId, memberEpoch: epoch,
                    topics: [.init(name: "t", partitions: [.init(partition: 0, offset: offset)])]), to: 0
            ).errorCode
        }
        let joined = try await heartbeat("", 0)
        XCTAssertEqual(joined.errorCode, .none)
        let member = joined.memberId
        XCTAssertEqual(joined.assignment.flatMap(\.partitions).count, 2)
        do {
            let value = try await commit(member, joined.memberEpoch, offset: 1)
            XCTAssertEqual(value, .none)
        }

        do {
            let value = try await heartbeat("no-such-member", 3).errorCode
            XCTAssertEqual(value, .unknownMemberId)
        }
        do {
            let value = try await heartbeat(member, joined.memberEpoch + 7).errorCode
            XCTAssertEqual(value, .fencedMemberEpoch)
        }
        do {
            let value = try await heartbeat("", 0, session: 10).errorCode
            XCTAssertEqual(value, .invalidSessionTimeout)
        }
        do {
            let value = try await commit("no-such-member", 1)
            XCTAssertEqual(value, .unknownMemberId)
        }
        do {
            let value = try await commit(member, joined.memberEpoch - 1)
            XCTAssertEqual(value, .staleMemberEpoch)
        }
        let reset = try await client.send(
            ResetGroupOffsetsRequest(groupId: "g", topic: "t", strategy: .earliest), to: 0)
        XCTAssertEqual(reset.errorCode, .nonEmptyGroup)
        let delete = try await client.send(DeleteGroupsRequest(groupIds: ["g"]), to: 0)
        XCTAssertEqual(delete.results.first?.errorCode, .nonEmptyGroup)

        // Silent past its session timeout: fenced; its late commit is refused as fenced.
        try await waitFor("the member to be fenced", timeout: .seconds(20)) {
            try await client.admin.describeGroup("g").members.isEmpty
        }
        do {
            let value = try await commit(member, joined.memberEpoch)
            XCTAssertEqual(value, .fencedMemberEpoch)
        }
        let offsets = try await client.send(OffsetFetchRequest(groupId: "g", topics: []), to: 0)
        XCTAssertEqual(offsets.topics.first?.partitions.first?.offset, 1, "no refused commit was stored")

        // Produce to the internal topic is refused.
        let produce = try await client.send(
            ProduceRequest(
                acks: 1, timeoutMs: 1000,
                topics: [
                    .init(name: "__consumer_offsets", partitions: [.init(partition: 0, records: makeBatch(count: 1))])
                ]),
            to: 0)
        XCTAssertEqual(produce.topics.first?.partitions.first?.errorCode, .invalidTopic)
        await client.close()
    }

    /// Reset by timestamp: the first offset whose record is at or after the time, read from the
    /// partition's segment files (several segments, so the search crosses files), and the log
    /// end past the newest record.
    func testResetOffsetsByTimestampFindsTheFirstRecordAtOrAfterIt() async throws {
        let client = try await client()
        try await client.admin.createTopic(name: "ts", partitions: 1, configs: ["segment.bytes": "1024"])
        // 20 batches of 5 records; batch b's records are stamped base + 1000 b + i.
        let base = defaultTestTimestamp
        for b in 0..<20 {
            let response = try await client.send(
                ProduceRequest(
                    acks: 1, timeoutMs: 5000,
                    topics: [
                        .init(
                            name: "ts",
                            partitions: [.init(partition: 0, records: makeBatch(count: 5, baseTimestamp: base + 1000 * Int64(b)))])
                    ]),
                to: 0)
            XCTAssertEqual(response.topics.first?.partitions.first?.errorCode, ErrorCode.none)
        }
        let tp = TopicPartition(topic: "ts", partition: 0)
        let cases: [(Int64, Int64)] = [
            (0, 0), (base, 0), (base + 3, 3), (base + 5, 5), (base + 7000, 35), (base + 7004, 39), (base + 7005, 40),
            (base + 19_004, 99), (base + 19_005, 100),
        ]
        for (timestamp, expected) in cases {
            let reset = try await client.admin.resetGroupOffsets(group: "by-time", topic: "ts", to: .timestamp(timestamp))
            XCTAssertEqual(reset, [tp: expected], "timestamp \(timestamp)")
        }
        let description = try await client.admin.describeGroup("by-time")
        XCTAssertEqual(description.partitions.map(\.committedOffset), [100])
        await client.close()
    }

    func testResetOffsetsOfAStoppedGroupAndDeleteIt() async throws {
        let client = try await client()
        try await client.admin.createTopic(name: "t", partitions: 2)
        try await produce(client, topic: "t", range: 0..<20)
        let latest = try await client.admin.resetGroupOffsets(group: "r", topic: "t", to: .latest)
        XCTAssertEqual(latest.values.reduce(0, +), 20)
        let earliest = try await client.admin.resetGroupOffsets(group: "r", topic: "t", partitions: [0], to: .earliest)
        XCTAssertEqual(earliest, [TopicPartition(topic: "t", partition: 0): 0])
        let clamped = try await client.admin.resetGroupOffsets(
            group: "r", topic: "t", partitions: [1], to: .offset(1_000_000))
        XCTAssertEqual(clamped.values.first, latest[TopicPartition(topic: "t", partition: 1)])
        let future = try await client.admin.resetGroupOffsets(group: "r", topic: "t", to: .timestamp(Int64.max / 2))
        XCTAssertEqual(future, latest)
        let description = try await client.admin.describeGroup("r")
        XCTAssertEqual(description.partitions.map(\.committedOffset), latest.sorted { $0.key < $1.key }.map(\.value))
        let listed = try await client.admin.listGroups().map(\.groupId)
        XCTAssertEqual(listed, ["r"])
        try await client.admin.deleteGroup("r")
        do {
            _ = try await client.admin.describeGroup("r")
            XCTFail("the group was deleted")
        } catch let error as TernError {
            XCTAssertEqual(error.brokerError, .groupIdNotFound)
        }
        await client.close()
    }

    func testRestartKeepsCommittedOffsetsAndStaticMembership() async throws {
        let client = try await client()
        try await client.admin.createTopic(name: "t", partitions: 4)
        let joined = try await client.send(
            ConsumerGroupHeartbeatRequest(
                groupId: "s", memberId: "", memberEpoch: 0, instanceId: "host-a", sessionTimeoutMs: 60_000,
                subscribedTopics: ["t"], ownedPartitions: []), to: 0)
        XCTAssertEqual(joined.errorCode, .none)
        let commit = try await client.send(
            OffsetCommitRequest(
                groupId: "s", memberId: joined.memberId, memberEpoch: joined.memberEpoch,
                topics: [.init(name: "t", partitions: [.init(partition: 2, offset: 0)])]), to: 0)
        XCTAssertEqual(commit.errorCode, .none)
        // Leaves as a static member (keeps its partitions), then the broker restarts.
        _ = try await client.send(
            ConsumerGroupHeartbeatRequest(
                groupId: "s", memberId: joined.memberId, memberEpoch: ConsumerGroupHeartbeatRequest.staticLeaveEpoch,
                instanceId: "host-a", sessionTimeoutMs: 60_000, subscribedTopics: ["t"], ownedPartitions: []), to: 0)
        await client.close()
        XCTAssertEqual(broker.stop(), 0)
        broker = try BrokerProcess(dataDirectory: directory.path + "/data", settings: Self.brokerSettings)

        let again = try await self.client()
        let description = try await again.admin.describeGroup("s")
        XCTAssertEqual(description.members.map(\.instanceId), ["host-a"])
        XCTAssertEqual(description.members.first?.assignment.count, 4)
        XCTAssertEqual(description.partitions.first { $0.partition == 2 }?.committedOffset, 0)
        let back = try await again.send(
            ConsumerGroupHeartbeatRequest(
                groupId: "s", memberId: "", memberEpoch: 0, instanceId: "host-a", sessionTimeoutMs: 60_000,
                subscribedTopics: ["t"], ownedPartitions: []), to: 0)
        XCTAssertEqual(back.errorCode, .none)
        XCTAssertEqual(back.memberId, joined.memberId, "the static member takes its place back")
        XCTAssertEqual(back.assignment.flatMap(\.partitions).sorted(), [0, 1, 2, 3])
        await again.close()
    }

    func testATopicCreatedAfterSubscribingIsPickedUpAndRecordsComeThroughTheSequence() async throws {
        let client = try await client()
        try await client.admin.createTopic(name: "a", partitions: 1)
        let consumer = groupConsumer(client)
        try await consumer.subscribe(topics: ["a", "later"])
        try await client.admin.createTopic(name: "later", partitions: 2)
        try await produce(client, topic: "later", range: 0..<10)
        try await produce(client, topic: "a", range: 10..<12)
        var seen = Set<String>()
        for try await record in consumer.records {
            seen.insert(String(decoding: record.value ?? [], as: UTF8.self))
            if seen.count == 12 { break }
        }
        XCTAssertEqual(seen, Set((0..<12).map { "v\($0)" }))
        XCTAssertEqual(Set(consumer.assignment.map(\.topic)), ["a", "later"])

        // An asynchronous commit of the current positions.
        let done = AsyncStream<TernError?>.makeStream()
        consumer.commitAsync { done.continuation.yield($0) }
        var iterator = done.stream.makeAsyncIterator()
        let error = await iterator.next()
        XCTAssertNil(error ?? nil)
        let committed = try await consumer.committed(consumer.assignment)
        XCTAssertEqual(committed.values.reduce(0, +), 12)
        await consumer.close()
        await client.close()
    }
}
