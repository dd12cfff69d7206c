import TernStorage
import TernTestSupport
import XCTest

/// The per-partition producer-state table, exhaustively: every verdict, the duplicate window of
/// five batches, epochs, sequence wrap-around, expiry, and the snapshot codec.
final class ProducerStateTableTests: XCTestCase {
    typealias Table = ProducerStateTable

    /// Records `count` batches of `size` records from sequence `from`, offsets from `offset`.
    private func fill(
        _ table: inout Table, id: Int64 = 7, epoch: Int16 = 0, batches count: Int, size: Int32 = 10, from: Int32 = 0,
        offset: Int64 = 100, time: Int64 = 1000
    ) {
        for i in 0..<Int32(count) {
            let first = from + i * size
            table.record(
                producerId: id, epoch: epoch, firstSequence: first, lastSequence: first + size - 1,
                firstOffset: offset + Int64(i * size), lastOffset: offset + Int64(i * size + size - 1),
                timestampMs: time)
        }
    }

    func testUnknownProducerMayStartOnlyAtZero() {
        let table = Table()
        XCTAssertEqual(table.check(producerId: 1, epoch: 0, firstSequence: 0, lastSequence: 4), .append)
        XCTAssertEqual(table.check(producerId: 1, epoch: 0, firstSequence: 5, lastSequence: 9), .unknownProducer)
        XCTAssertEqual(table.check(producerId: 1, epoch: 3, firstSequence: 1, lastSequence: 1), .unknownProducer)
    }

    func testNextSequenceAppendsAndAGapIsOutOfOrder() {
        var table = Table()
        fill(&table, batches: 2)  // sequences 0...19
        XCTAssertEqual(table.check(producerId: 7, epoch: 0, firstSequence: 20, lastSequence: 29), .append)
        for gap: Int32 in [21, 25, 30, 1000, Int32.max] {
            XCTAssertEqual(
                table.check(producerId: 7, epoch: 0, firstSequence: gap, lastSequence: gap), .outOfOrder(expected: 20),
                "\(gap)")
        }
        // Overlapping a stored batch without being equal to one is no duplicate.
        XCTAssertEqual(
            table.check(producerId: 7, epoch: 0, firstSequence: 5, lastSequence: 14), .outOfOrder(expected: 20))
        XCTAssertEqual(
            table.check(producerId: 7, epoch: 0, firstSequence: 10, lastSequence: 15), .outOfOrder(expected: 20))
    }

    /// A retry of each of the last five batches is answered with its own original offsets; the
    /// sixth-newest is forgotten (and then a gap).
    func testDuplicatesOfEachOfTheLastFiveBatches() {
        var table = Table()
        fill(&table, batches: 8)  // sequences 0...79 at offsets 100...179
        XCTAssertEqual(table.producers[7]?.batches.count, Table.batchesKept)
        for i: Int32 in 3..<8 {
            let first = i * 10
            let verdict = table.check(producerId: 7, epoch: 0, firstSequence: first, lastSequence: first + 9)
            XCTAssertEqual(
                verdict,
                .duplicate(
                    .init(
                        firstSequence: first, lastSequence: first + 9, firstOffset: 100 + Int64(first),
                        lastOffset: 109 + Int64(first), timestampMs: 1000)), "batch \(i)")
        }
        for i: Int32 in 0..<3 {
            XCTAssertEqual(
                table.check(producerId: 7, epoch: 0, firstSequence: i * 10, lastSequence: i * 10 + 9),
                .outOfOrder(expected: 80), "batch \(i) is older than the last five")
        }
    }

    func testOlderEpochIsFencedAndNewerEpochRestartsAtZero() {
        var table = Table()
        fill(&table, epoch: 3, batches: 2)
        XCTAssertEqual(
            table.check(producerId: 7, epoch: 2, firstSequence: 20, lastSequence: 29), .staleEpoch(current: 3))
        XCTAssertEqual(table.check(producerId: 7, epoch: 2, firstSequence: 0, lastSequence: 9), .staleEpoch(current: 3))
        XCTAssertEqual(table.check(producerId: 7, epoch: 4, firstSequence: 0, lastSequence: 9), .append)
        XCTAssertEqual(
            table.check(producerId: 7, epoch: 4, firstSequence: 20, lastSequence: 29), .outOfOrder(expected: 0))
        // The new epoch replaces the old one's batches: its sequences start over.
        table.record(
            producerId: 7, epoch: 4, firstSequence: 0, lastSequence: 9, firstOffset: 500, lastOffset: 509,
            timestampMs: 2000)
        XCTAssertEqual(table.producers[7]?.epoch, 4)
        XCTAssertEqual(table.producers[7]?.batches.count, 1)
        XCTAssertEqual(
            table.check(producerId: 7, epoch: 4, firstSequence: 0, lastSequence: 9),
            .duplicate(.init(firstSequence: 0, lastSequence: 9, firstOffset: 500, lastOffset: 509, timestampMs: 2000)))
        XCTAssertEqual(
            table.check(producerId: 7, epoch: 3, firstSequence: 20, lastSequence: 29), .staleEpoch(current: 4))
    }

    func testProducersAreIndependent() {
        var table = Table()
        fill(&table, id: 1, batches: 1)
        fill(&table, id: 2, batches: 3, offset: 200)
        XCTAssertEqual(table.check(producerId: 1, epoch: 0, firstSequence: 10, lastSequence: 10), .append)
        XCTAssertEqual(table.check(producerId: 2, epoch: 0, firstSequence: 30, lastSequence: 30), .append)
        XCTAssertEqual(
            table.check(producerId: 2, epoch: 0, firstSequence: 10, lastSequence: 10), .outOfOrder(expected: 30))
        XCTAssertEqual(table.count, 2)
    }

    func testSequenceWrapsFromInt32MaxToZero() {
        XCTAssertEqual(Table.sequence(Int32.max, plus: 1), 0)
        XCTAssertEqual(Table.sequence(Int32.max - 2, plus: 5), 2)
        XCTAssertEqual(Table.sequence(5, plus: 0), 5)
        var table = Table()
        table.record(
            producerId: 7, epoch: 0, firstSequence: Int32.max - 4, lastSequence: Int32.max, firstOffset: 0,
            lastOffset: 4, timestampMs: 1)
        XCTAssertEqual(table.check(producerId: 7, epoch: 0, firstSequence: 0, lastSequence: 9), .append)
        XCTAssertEqual(
            table.check(producerId: 7, epoch: 0, firstSequence: Int32.max, lastSequence: Int32.max),
            .outOfOrder(expected: 0))
    }

    func testExpiryForgetsOnlyIdleProducers() {
        var table = Table()
        fill(&table, id: 1, batches: 1, time: 1_000)
        fill(&table, id: 2, batches: 1, time: 5_000)
        XCTAssertEqual(table.expire(nowMs: 10_000, expirationMs: 9_001), 0)
        XCTAssertEqual(table.expire(nowMs: 10_000, expirationMs: 9_000), 1, "idle exactly the expiration: gone")
        XCTAssertNil(table.producers[1])
        XCTAssertNotNil(table.producers[2])
        // An expired producer that continues its sequence is unknown; one starting over is not.
        XCTAssertEqual(table.check(producerId: 1, epoch: 0, firstSequence: 10, lastSequence: 19), .unknownProducer)
        XCTAssertEqual(table.check(producerId: 1, epoch: 1, firstSequence: 0, lastSequence: 9), .append)
        // A new batch makes a producer recent again.
        table.record(
            producerId: 2, epoch: 0, firstSequence: 10, lastSequence: 10, firstOffset: 9, lastOffset: 9,
            timestampMs: 9_999)
        XCTAssertEqual(table.expire(nowMs: 10_000, expirationMs: 5_000), 0)
        XCTAssertEqual(table.expire(nowMs: 20_000, expirationMs: 5_000), 1)
        XCTAssertEqual(table.count, 0)
    }

    // MARK: Snapshot codec

    private func sampleTable() -> Table {
        var table = Table()
        fill(&table, id: 1, batches: 7)
        fill(&table, id: 99, epoch: 12, batches: 1, size: 1, from: 0, offset: 50, time: 42)
        fill(&table, id: Int64.max, epoch: Int16.max, batches: 2, size: 3, from: Int32.max - 10, offset: 300)
        return table
    }

    func testSnapshotRoundTrips() throws {
        for table in [Table(), sampleTable()] {
            let bytes = ProducerSnapshot.encode(table, offset: 1000)
            let decoded = try ProducerSnapshot.decode(bytes)
            XCTAssertEqual(decoded.table, table)
            XCTAssertEqual(decoded.offset, 1000)
            XCTAssertEqual(ProducerSnapshot.encode(decoded.table, offset: 1000), bytes, "stable bytes")
        }
    }

    /// Every truncation, every flipped byte and trailing garbage: a `corruptLog` error, never a trap
    /// and never a table.
    func testDamagedSnapshotsAreRefused() throws {
        let bytes = ProducerSnapshot.encode(sampleTable(), offset: 1000)
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try ProducerSnapshot.decode(Array(bytes[..<length])), "truncated to \(length)")
        }
        for position in bytes.indices {
            var damaged = bytes
            damaged[position] ^= 0x20
            XCTAssertThrowsError(try ProducerSnapshot.decode(damaged), "byte \(position) flipped")
        }
        XCTAssertThrowsError(try ProducerSnapshot.decode(bytes + [0]))
        // A batch at or past the snapshot's offset is inconsistent even with a good CRC.
        XCTAssertThrowsError(try ProducerSnapshot.decode(ProducerSnapshot.encode(sampleTable(), offset: 200)))
        var generator = SeededGenerator(seed: 17)
        for _ in 0..<2000 {
            let garbage = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            XCTAssertThrowsError(try ProducerSnapshot.decode(garbage))
        }
    }
}
