import TernWire
import XCTest

@testable import TernBroker

/// Applying committed metadata entries in order: a decision applies whole or not at all, a bad
/// entry is refused the same way on every broker, redeliveries are skipped, gaps are refused, and
/// a snapshot rebuilds the image exactly.
final class MetadataPublisherTests: XCTestCase {
    typealias T = MetadataImageTests

    func entries() -> [[UInt8]] {
        [
            [],  // a new Raft leader's control entry
            MetadataBatch.encode([.clusterId("c1"), T.register(1, epoch: 1), T.register(2, epoch: 2)]),
            MetadataBatch.encode([
                .topic(.init(topicId: T.t1, name: "a")),
                .partition(.init(topicId: T.t1, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1)),
            ]),
        ]
    }

    func testAppliesEntriesInOrder() throws {
        let publisher = MetadataPublisher()
        let change = try publisher.apply(offset: 0, entries: entries())
        XCTAssertEqual(change.outcomes, [.applied(records: 0), .applied(records: 3), .applied(records: 2)])
        XCTAssertEqual(change.before, MetadataImage())
        XCTAssertEqual(change.after.topic(named: "a")?.partitions[0]?.leader, 1)
        XCTAssertEqual(publisher.current.nextOffset, 3)
        XCTAssertEqual(publisher.image, change.after)
    }

    func testContradictingDecisionIsRefusedWholeAndTheNextStillApplies() throws {
        let publisher = MetadataPublisher()
        _ = try publisher.apply(offset: 0, entries: entries())
        let before = publisher.image
        // A topic whose partition names an unregistered broker: the topic record alone would
        // apply, the decision as a whole does not.
        let bad = MetadataBatch.encode([
            .topic(.init(topicId: T.t2, name: "b")),
            .partition(.init(topicId: T.t2, partition: 0, replicas: [9], isr: [9], leader: 9)),
        ])
        let good = MetadataBatch.encode([.topic(.init(topicId: T.t2, name: "c"))])
        let change = try publisher.apply(offset: 3, entries: [bad, [0xFF, 0], good])
        XCTAssertEqual(change.outcomes.count, 3)
        guard case .refused(let reason) = change.outcomes[0] else { return XCTFail("\(change.outcomes)") }
        XCTAssertTrue(reason.contains("not a registered broker"), reason)
        guard case .refused(let garbage) = change.outcomes[1] else { return XCTFail("\(change.outcomes)") }
        XCTAssertTrue(garbage.contains("undecodable"), garbage)
        XCTAssertEqual(change.outcomes[2], .applied(records: 1))
        XCTAssertNil(publisher.image.topic(named: "b"), "no part of a refused decision is applied")
        XCTAssertEqual(publisher.image.sortedTopics.map(\.name), ["a", "c"])
        XCTAssertEqual(publisher.current.nextOffset, 6, "refused entries still take their offsets")
        XCTAssertNotEqual(before, publisher.image)
    }

    func testRedeliveryIsSkippedAndAGapIsRefused() throws {
        let publisher = MetadataPublisher()
        _ = try publisher.apply(offset: 0, entries: Array(entries().prefix(2)))
        // From offset 1 again: entry 1 was applied, only entry 2 is new.
        let change = try publisher.apply(offset: 1, entries: Array(entries().suffix(2)))
        XCTAssertEqual(change.firstOffset, 2)
        XCTAssertEqual(change.outcomes, [.applied(records: 2)])
        XCTAssertThrowsError(try publisher.apply(offset: 4, entries: [[]])) { error in
            XCTAssertEqual((error as? MetadataPublisher.OrderError)?.expected, 3)
        }
        XCTAssertEqual(publisher.current.nextOffset, 3)
    }

    func testSnapshotRebuildsTheImage() throws {
        let source = MetadataPublisher()
        _ = try source.apply(offset: 0, entries: entries())
        _ = try source.apply(
            offset: 3,
            entries: [
                MetadataBatch.encode([
                    .config(.init(resourceType: .broker, resourceName: "", key: "log.retention.ms", value: "5")),
                    .brokerFencing(.init(nodeId: 2, brokerEpoch: 2, fenced: true)),
                ])
            ])
        let (bytes, offset) = source.snapshot()
        XCTAssertEqual(offset, 4)
        let restored = MetadataPublisher()
        _ = try restored.install(snapshot: bytes, nextOffset: offset)
        XCTAssertEqual(restored.current, source.current)
        // A damaged snapshot is refused and changes nothing.
        XCTAssertThrowsError(try restored.install(snapshot: Array(bytes.dropLast()), nextOffset: 9))
        XCTAssertEqual(restored.current, source.current)
    }
}
