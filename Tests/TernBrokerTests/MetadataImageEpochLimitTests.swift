import TernWire
import XCTest

@testable import TernBroker

/// Leader and partition epochs end one below `Int32.max`: every change needs the next epoch, so
/// an image holding `Int32.max` would make the controller's `+ 1` trap, and a change that wrapped
/// to a negative epoch would give a snapshot the image cannot load back. Both were reached through
/// the `metadata-image` fuzz target (scripts/fuzz.sh); the byte inputs below are its inputs.
final class MetadataImageEpochLimitTests: XCTestCase {
    typealias T = MetadataImageTests
    /// The last epoch a partition may have (`MetadataImage.maxEpoch`).
    static let last: Int32 = Int32.max - 1

    /// Brokers 1 and 2 registered and unfenced, topic "t" (t1) without partitions.
    static func base() throws -> MetadataImage {
        try MetadataImage().applying([
            T.register(1, epoch: 1), T.register(2, epoch: 2), .topic(.init(topicId: T.t1, name: "t")),
        ])
    }

    /// The bytes of a hex string (two digits a byte).
    static func bytes(_ hex: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        return try stride(from: 0, to: digits.count, by: 2).map {
            try XCTUnwrap(UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16))
        }
    }

    func assertNoNextEpoch(_ body: () throws -> some Any, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) {
            guard let error = $0 as? MetadataImageError else { return XCTFail("\($0)", line: line) }
            XCTAssertEqual(error.code, .invalid, "\(error)", line: line)
            XCTAssertTrue(error.message.contains("leaves no next epoch"), "\(error)", line: line)
        }
    }

    func testPartitionAtInt32MaxEpochIsRefused() throws {
        let image = try Self.base()
        assertNoNextEpoch {
            try image.applying(
                .partition(
                    .init(topicId: T.t1, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 2, leaderEpoch: .max)))
        }
        assertNoNextEpoch {
            try image.applying(
                .partition(
                    .init(
                        topicId: T.t1, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: 0,
                        partitionEpoch: .max)))
        }
        // One below is the last epoch a partition may have.
        let atLast = try image.applying(
            .partition(
                .init(
                    topicId: T.t1, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: Self.last,
                    partitionEpoch: Self.last)))
        XCTAssertEqual(atLast.partition(T.t1, 0)?.partitionEpoch, Int32.max - 1)
    }

    func testChangeCannotReachOrWrapPastTheLastEpoch() throws {
        let image = try Self.base().applying(
            .partition(
                .init(
                    topicId: T.t1, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 1, leaderEpoch: Self.last,
                    partitionEpoch: Self.last - 1)))
        // The partition epoch may take its last value; the new leader would need Int32.max.
        let shrunk = try image.applying(
            .partitionChange(
                .init(
                    topicId: T.t1, partition: 0, leader: 1, isr: [1], leaderEpoch: Self.last, partitionEpoch: Self.last)
            ))
        assertNoNextEpoch {
            try image.applying(
                .partitionChange(
                    .init(
                        topicId: T.t1, partition: 0, leader: 2, isr: [2], leaderEpoch: .max, partitionEpoch: Self.last))
            )
        }
        // Neither Int32.max nor the wrapped Int32.min follows the last partition epoch.
        assertNoNextEpoch {
            try shrunk.applying(
                .partitionChange(
                    .init(
                        topicId: T.t1, partition: 0, leader: 1, isr: [1, 2], leaderEpoch: Self.last,
                        partitionEpoch: .max)))
        }
        XCTAssertThrowsError(
            try shrunk.applying(
                .partitionChange(
                    .init(
                        topicId: T.t1, partition: 0, leader: 1, isr: [1, 2], leaderEpoch: Self.last,
                        partitionEpoch: .min))))
    }

    /// The controller's decisions over a partition at its last epochs refuse with an error (the
    /// image refuses the record they would need) instead of trapping on `Int32.max + 1`.
    func testControllerDecisionsAtTheLastEpochRefuseInsteadOfTrapping() throws {
        let image = try Self.base().applying(
            .partition(
                .init(
                    topicId: T.t1, partition: 0, replicas: [1, 2], isr: [1, 2], leader: 2, leaderEpoch: Self.last,
                    partitionEpoch: Self.last)))
        // The preferred leader (1) is in sync: the election needs leader epoch Int32.max.
        XCTAssertThrowsError(try ControllerDecisions.rebalancePreferredLeaders(image)) {
            XCTAssertTrue("\($0)".contains("leaves no next epoch"), "\($0)")
        }
        XCTAssertThrowsError(try ControllerDecisions.fenceBroker(image, nodeId: 2)) {
            XCTAssertTrue("\($0)".contains("leaves no next epoch"), "\($0)")
        }
    }

    /// The fuzz target's input: a 167-byte snapshot whose partition t-0 (replicas 1 and 2, led by
    /// 2) has leader epoch Int32.max. Before the fix it installed, and the controller's next
    /// preferred election trapped on arithmetic overflow.
    func testSnapshotWithAnEpochAtInt32MaxIsRefused() throws {
        let snapshot = try Self.bytes(
            "000000040002000000000001000000000000000000000000000000010000000000000001000000000100000200000000"
                + "000200000000000000000000000000000002000000000000000200000000010000050000000000000000000100000000"
                + "000000010001740000000000060000000000000000000100000000000000010000000000000002000000010000000200"
                + "0000020000000100000002000000027fffffff00000000"
        )
        let publisher = MetadataPublisher()
        XCTAssertThrowsError(try publisher.install(snapshot: snapshot, nextOffset: 4)) {
            guard let error = $0 as? MetadataImageError else { return XCTFail("\($0)") }
            XCTAssertTrue(error.message.contains("t-0: leader epoch 2147483647"), "\(error)")
        }
        XCTAssertEqual(publisher.current.image, MetadataImage())
    }

    /// The fuzz target's other input: two committed entries, a partition created at partition
    /// epoch Int32.max and a change to Int32.min (its wrapped successor). Before the fix both
    /// applied and the image's own snapshot failed to install ("negative epoch"). Now the first is
    /// refused with a clear reason, the second names a partition that does not exist, and the
    /// image still reloads from its snapshot.
    func testEntryWrappingThePartitionEpochIsRefused() throws {
        let created = try Self.bytes(
            "000000040002000000000001000000000000000000000000000000010000000000000001000000000100000200000000"
                + "000200000000000000000000000000000002000000000000000200000000010000050000000000000000000100000000"
                + "000000010001740000000000060000000000000000000100000000000000010000000000000002000000010000000200"
                + "000002000000010000000200000001000000007fffffff"
        )
        let wrapped = try Self.bytes(
            "000000010007000000000000000000010000000000000001000000000000000100000001000000010000000080000000"
        )
        let publisher = MetadataPublisher()
        let change = try publisher.apply(offset: 0, entries: [created, wrapped])
        XCTAssertEqual(change.outcomes.count, 2)
        guard case .refused(let first) = change.outcomes[0], case .refused(let second) = change.outcomes[1] else {
            return XCTFail("\(change.outcomes)")
        }
        XCTAssertTrue(first.contains("partition epoch 2147483647 leaves no next epoch"), first)
        XCTAssertTrue(second.contains("unknown"), second)
        let (snapshot, offset) = publisher.snapshot()
        XCTAssertEqual(offset, 2)
        let restarted = MetadataPublisher()
        _ = try restarted.install(snapshot: snapshot, nextOffset: offset)
        XCTAssertEqual(restarted.current, publisher.current)
    }
}
