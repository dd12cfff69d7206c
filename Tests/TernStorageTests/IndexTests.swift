import TernTestSupport
import XCTest

@testable import TernStorage

/// The in-memory indexes and the parsing of their files, including files that are not indexes.
final class IndexTests: XCTestCase {
    func testOffsetIndexLookupAndRoundTrip() throws {
        var index = OffsetIndex()
        XCTAssertNil(index.lookup(5))
        index.append(relativeOffset: 0, position: 0)
        index.append(relativeOffset: 10, position: 4096)
        index.append(relativeOffset: 25, position: 9000)
        XCTAssertEqual(index.lookup(0)?.position, 0)
        XCTAssertEqual(index.lookup(9)?.position, 0)
        XCTAssertEqual(index.lookup(10)?.position, 4096)
        XCTAssertEqual(index.lookup(24)?.position, 4096)
        XCTAssertEqual(index.lookup(UInt32.max)?.position, 9000)

        let bytes = index.serialized()
        XCTAssertEqual(bytes.count, 24)
        XCTAssertEqual(Array(bytes[8..<16]), [0, 0, 0, 10, 0, 0, 0x10, 0])
        let parsed = try OffsetIndex.parse(bytes, logSize: 10_000).get()
        XCTAssertEqual(parsed.entries, index.entries)
        XCTAssertEqual(parsed.persistedCount, 3)

        index.truncate(toPosition: 4096)
        XCTAssertEqual(index.count, 1)
        XCTAssertEqual(index.lookup(30)?.position, 0)
    }

    func testOffsetIndexParseRefusesImplausibleFiles() {
        var good = OffsetIndex()
        good.append(relativeOffset: 0, position: 0)
        good.append(relativeOffset: 3, position: 200)
        let bytes = good.serialized()
        let cases: [(String, [UInt8], Int64)] = [
            ("partial entry", bytes + [1, 2, 3], 1000),
            ("past the log", bytes, 150),
            ("not increasing", bytes + bytes[8..<16], 1000),
            ("first not at 0", Array(bytes[8..<16]), 1000),
            ("garbage", DiskSurgery.garbage(64), 1 << 30),
        ]
        for (name, data, logSize) in cases {
            if case .success = OffsetIndex.parse(data, logSize: logSize) { XCTFail(name) }
        }
        if case .failure(let problem) = OffsetIndex.parse([], logSize: 0) { XCTFail("empty is fine: \(problem)") }
    }

    func testTimeIndexKeepsOnlyIncreasingTimestamps() throws {
        var index = TimeIndex()
        XCTAssertNil(index.startOffset(searchingFor: 100))
        index.append(timestamp: 100, relativeOffset: 0)
        index.append(timestamp: 90, relativeOffset: 5)  // not a new maximum: ignored
        index.append(timestamp: 200, relativeOffset: 10)
        index.append(timestamp: 300, relativeOffset: 20)
        XCTAssertEqual(index.count, 3)
        XCTAssertNil(index.startOffset(searchingFor: 100), "nothing is known to be older than 100")
        XCTAssertEqual(index.startOffset(searchingFor: 101), 0)
        XCTAssertEqual(index.startOffset(searchingFor: 250), 10)
        XCTAssertEqual(index.startOffset(searchingFor: .max), 20)

        let parsed = try TimeIndex.parse(index.serialized()).get()
        XCTAssertEqual(parsed.timestamps, [100, 200, 300])
        XCTAssertEqual(parsed.offsets, [0, 10, 20])

        index.truncate(toRelativeOffset: 10)
        XCTAssertEqual(index.last?.timestamp, 100)
        if case .success = TimeIndex.parse(DiskSurgery.garbage(13)) { XCTFail("partial entry") }
        let backwards = parsed.serialized()
        if case .success = TimeIndex.parse(Array(backwards[12...]) + Array(backwards[0..<12])) { XCTFail("backwards") }
    }

    func testCheckpointRoundTripAndErrors() throws {
        let offsets: [TopicPartition: Int64] = [
            TopicPartition("b", 1): 42, TopicPartition("a", 10): 7, TopicPartition("a", 2): 0,
        ]
        let text = OffsetCheckpoint.serialize(offsets)
        XCTAssertEqual(text, "0\n3\na 2 0\na 10 7\nb 1 42\n")
        XCTAssertEqual(try OffsetCheckpoint.parse(Array(text.utf8), path: "cp"), offsets)
        XCTAssertEqual(try OffsetCheckpoint.parse(Array("0\n0\n".utf8), path: "cp"), [:])

        let directory = try ScratchDirectory()
        let path = directory.path + "/recovery-point-offset-checkpoint"
        XCTAssertEqual(try OffsetCheckpoint.read(path), [:], "a missing checkpoint is empty")
        try OffsetCheckpoint.write(path, offsets)
        XCTAssertEqual(try OffsetCheckpoint.read(path), offsets)

        for bad in ["", "1\n0\n", "0\n2\na 1 5\n", "0\n1\na 1\n", "0\n1\na x 5\n", "0\n1\na 1 -5\n", "0\nz\n"] {
            XCTAssertThrowsError(try OffsetCheckpoint.parse(Array(bad.utf8), path: "cp"), bad.debugDescription) {
                XCTAssertEqual(($0 as? StorageError)?.code, .corruptLog)
            }
        }
        XCTAssertThrowsError(try OffsetCheckpoint.parse([0xFF, 0xFE], path: "cp"))
    }

    func testTopicPartitionDirectoryNames() {
        XCTAssertEqual(TopicPartition(directoryName: "orders-3"), TopicPartition("orders", 3))
        XCTAssertEqual(TopicPartition(directoryName: "my-topic-12"), TopicPartition("my-topic", 12))
        for name in ["orders", "-3", "orders-", "orders-x", "orders-+3", "orders-3.abc-delete", "orders-99999999999"] {
            XCTAssertNil(TopicPartition(directoryName: name), name)
        }
        XCTAssertEqual(TopicPartition("orders", 3).description, "orders-3")
    }

    func testSegmentFileNames() {
        XCTAssertEqual(Segment.fileName(42, ".log"), "00000000000000000042.log")
        XCTAssertEqual(Segment.baseOffset(fromFileName: "00000000000000000042.log", suffix: ".log"), 42)
        XCTAssertNil(Segment.baseOffset(fromFileName: "42.log", suffix: ".log"))
        XCTAssertNil(Segment.baseOffset(fromFileName: "0000000000000000004x.log", suffix: ".log"))
        XCTAssertNil(Segment.baseOffset(fromFileName: "00000000000000000042.index", suffix: ".log"))
    }
}
