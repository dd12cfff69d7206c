import TernWire
import XCTest

@testable import TernClient

final class TernAdminTests: XCTestCase {
    func testTopicLifecycle() async throws {
        let broker = FakeBroker()
        let client = try await TernClient(configuration: broker.configuration())
        defer { Task { await client.close() } }
        let admin = client.admin

        try await admin.createTopic(name: "orders", partitions: 3, configs: ["retention.ms": "1000"])
        let topics = try await admin.listTopics()
        XCTAssertEqual(topics, [TopicListing(name: "orders", partitionCount: 3, replicationFactor: 1, isInternal: false)])

        let duplicate = await assertThrowsTernError(.broker) { try await admin.createTopic(name: "orders", partitions: 3) }
        XCTAssertEqual(duplicate?.brokerError, .topicAlreadyExists)
        XCTAssertTrue(duplicate?.message.contains("already exists") ?? false, duplicate?.message ?? "")
        XCTAssertTrue(duplicate?.message.contains("'orders'") ?? false, duplicate?.message ?? "")

        let invalid = await assertThrowsTernError(.broker) {
            try await admin.createTopic(name: "bad", partitions: 1, configs: ["retention.ms": "-7"])
        }
        XCTAssertTrue(invalid?.message.contains("retention.ms") ?? false, invalid?.message ?? "")
        await assertThrowsTernError(.invalidArgument) { try await admin.createTopic(name: "zero", partitions: 0) }

        let producer = client.producer()
        for partition in Int32(0)..<3 {
            for index in 0..<(Int(partition) + 1) {
                try await producer.send(topic: "orders", value: bytes("\(index)"), partition: partition)
            }
        }
        let description = try await admin.describeTopic(name: "orders")
        XCTAssertEqual(description.partitions.map(\.partition), [0, 1, 2])
        XCTAssertEqual(description.partitions.map(\.leader), [1, 1, 1])
        XCTAssertEqual(description.partitions.map(\.logStartOffset), [0, 0, 0])
        XCTAssertEqual(description.partitions.map(\.logEndOffset), [1, 2, 3])
        XCTAssertEqual(description.partitions.first?.isr, [1])

        let configs = try await admin.describeConfigs(topic: "orders")
        XCTAssertEqual(configs.map(\.name), ["cleanup.policy", "retention.ms"])
        XCTAssertEqual(configs.last?.value, "1000")
        XCTAssertEqual(configs.last?.source, "topic")

        try await admin.deleteTopic(name: "orders")
        let remaining = try await admin.listTopics()
        XCTAssertTrue(remaining.isEmpty)
        await assertThrowsTernError(.unknownTopic) { try await admin.describeTopic(name: "orders") }
        await assertThrowsTernError(.unknownTopic) { try await admin.deleteTopic(name: "orders") }
        await producer.close()
    }
}
