import Foundation
import Logging
import TernStorage
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class PartitionLogTests: XCTestCase {
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-storage") }
    override func tearDown() { directory.remove() }

    private func manager(_ mode: FlushMode = .sync, config: LogConfig = LogConfig(), logger: Logger = quietLogger) throws
        -> LogManager
    {
        try LogManager(logDirs: [directory.path + "/logs"], flushMode: mode, logger: logger, configProvider: { _ in config })
    }

    func testAppendAssignsConsecutiveOffsetsAndReadsBackAcrossSegments() throws {
        let config = LogConfig(segmentBytes: 4096, indexIntervalBytes: 256)
        let logs = try manager(config: config)
        let log = try logs.createLog(TopicPartition("t", 0), config: config)
        var expected = 0
        for i in 0..<200 {
            let result = try appendBatch(log, count: 1 + i % 5, valueSize: 40)
            XCTAssertEqual(result.baseOffset, Int64(expected))
            expected += 1 + i % 5
            XCTAssertEqual(result.logEndOffset, Int64(expected))
        }
        XCTAssertGreaterThan(log.segmentCount, 5, "small segments must roll")
        let records = try readAll(log)
        XCTAssertEqual(records.map(\.offset), (0..<Int64(expected)).map { $0 })

        // Every offset is served by the batch that holds it.
        for offset in stride(from: Int64(0), to: Int64(expected), by: 7) {
            let result = try log.read(from: offset, maxBytes: 1, maxOffset: Int64.max)
            var found: [Record] = []
            try RecordBatchDecoder.decode(try result.readBytes(), into: &found)
            XCTAssertTrue(found.contains { $0.offset == offset }, "offset \(offset)")
            XCTAssertLessThanOrEqual(found.first?.offset ?? .max, offset)
        }
        try logs.shutdown()
    }

    func testReadLimitsOutOfRangeAndHighWatermark() throws {
        let logs = try manager()
        let log = try logs.createLog(TopicPartition("t", 0), config: LogConfig())
        for _ in 0..<10 { try appendBatch(log, count: 10, valueSize: 100) }
        let small = try log.read(from: 0, maxBytes: 10, maxOffset: .max)
        XCTAssertGreaterThan(small.byteCount, 10, "at least one whole batch")
        var records: [Record] = []
        try RecordBatchDecoder.decode(try small.readBytes(), into: &records)
        XCTAssertEqual(records.count, 10)

        XCTAssertThrowsError(try log.read(from: 101, maxBytes: 100, maxOffset: .max)) { error in
            XCTAssertEqual((error as? StorageError)?.code, .offsetOutOfRange)
        }
        XCTAssertThrowsError(try log.read(from: -1, maxBytes: 100, maxOffset: .max))
        XCTAssertEqual(try log.read(from: 100, maxBytes: 100, maxOffset: .max).byteCount, 0)

        // Nothing at or past maxOffset (the high watermark) is returned.
        let bounded = try log.read(from: 0, maxBytes: 1 << 20, maxOffset: 30)
        records = []
        try RecordBatchDecoder.decode(try bounded.readBytes(), into: &records)
        XCTAssertEqual(records.last?.offset, 29)
        XCTAssertEqual(try log.read(from: 30, maxBytes: 1 << 20, maxOffset: 30).byteCount, 0)
        try logs.shutdown()
    }

    func testOffsetForTimestamp() throws {
        let config = LogConfig(segmentBytes: 2048, indexIntervalBytes: 128)
        let logs = try manager(config: config)
        let log = try logs.createLog(TopicPartition("t", 0), config: config)
        for i in 0..<50 { try appendBatch(log, count: 2, timestamp: 1_000_000 + Int64(i) * 100) }
        // Batch i holds offsets 2i, 2i+1 with timestamps base+100i, base+100i+1.
        XCTAssertEqual(try log.offsetForTimestamp(0)?.offset, 0)
        XCTAssertEqual(try log.offsetForTimestamp(1_000_000 + 2_500)?.offset, 50)
        XCTAssertEqual(try log.offsetForTimestamp(1_000_000 + 2_501)?.offset, 51)
        XCTAssertEqual(try log.offsetForTimestamp(1_000_000 + 2_502)?.offset, 52)
        XCTAssertNil(try log.offsetForTimestamp(9_999_999))
        try logs.shutdown()
    }

    func testRollsByAge() throws {
        let config = LogConfig(segmentMs: 1)
        let logs = try manager(config: config)
        let log = try logs.createLog(TopicPartition("t", 0), config: config)
        try appendBatch(log)
        usleep(5_000)
        try appendBatch(log)
        XCTAssertEqual(log.segmentCount, 2)
        XCTAssertEqual(log.segmentBaseOffsets, [0, 1])
        try logs.shutdown()
    }

    func testTruncateDropsLaterBatchesAndContinuesFromThere() throws {
        let config = LogConfig(segmentBytes: 2048)
        let logs = try manager(config: config)
        let log = try logs.createLog(TopicPartition("t", 0), config: config)
        for _ in 0..<40 { try appendBatch(log, count: 2, valueSize: 50) }
        try log.truncate(to: 31)  // inside batch 15 (offsets 30, 31): cut at 30
        XCTAssertEqual(log.logEndOffset, 30)
        XCTAssertEqual(try appendBatch(log).baseOffset, 30)
        XCTAssertEqual(try readAll(log).map(\.offset), (0...30).map { Int64($0) })
        try logs.shutdown()
    }

    func testCleanReopenKeepsEverythingWithoutRecovery() throws {
        let config = LogConfig(segmentBytes: 4096, indexIntervalBytes: 200)
        var logs = try manager(config: config)
        let log = try logs.createLog(TopicPartition("t", 1), config: config)
        for i in 0..<100 { try appendBatch(log, count: 3, timestamp: 5_000 + Int64(i), valueSize: 30) }
        let before = try readAll(log)
        let segments = log.segmentBaseOffsets
        try logs.shutdown()

        logs = try manager(config: config)
        XCTAssertTrue(logs.openedCleanly)
        XCTAssertEqual(logs.recoveredPartitions, [])
        let reopened = try XCTUnwrap(logs.log(for: TopicPartition("t", 1)))
        XCTAssertEqual(reopened.logEndOffset, 300)
        XCTAssertEqual(reopened.segmentBaseOffsets, segments)
        XCTAssertEqual(try readAll(reopened), before)
        // Batch 48 holds timestamps 5048, 5049, 5050 at offsets 144...146.
        XCTAssertEqual(try reopened.offsetForTimestamp(5_050)?.offset, 146)
        XCTAssertEqual(try appendBatch(reopened).baseOffset, 300)
        try logs.shutdown()
    }

    /// Crash, then damage the active segment's tail; reopening must cut it at the last good batch.
    private func assertRecovery(
        damage: (String, Int64) throws -> Void, expectedEnd: Int64, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let config = LogConfig(indexIntervalBytes: 100)
        var logs: LogManager? = try manager(config: config)
        let log = try XCTUnwrap(logs?.createLog(TopicPartition("t", 0), config: config))
        for _ in 0..<10 { try appendBatch(log, count: 5, valueSize: 20) }
        try log.flush()
        let path = log.directory + "/00000000000000000000.log"
        let size = Int64(try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber).intValue)
        logs = nil  // no shutdown: no clean marker, as after kill -9
        try damage(path, size)

        let capture = CapturingLogHandler()
        let logger = Logger(label: "test", factory: { _ in capture })
        let reopened = try manager(config: config, logger: logger)
        XCTAssertFalse(reopened.openedCleanly, file: file, line: line)
        let recovered = try XCTUnwrap(reopened.log(for: TopicPartition("t", 0)))
        XCTAssertEqual(recovered.logEndOffset, expectedEnd, file: file, line: line)
        XCTAssertEqual(try readAll(recovered).map(\.offset), (0..<expectedEnd).map { $0 }, file: file, line: line)
        XCTAssertTrue(
            capture.lines.contains { $0.contains("truncating") && $0.contains(path) && $0.contains("offset \(expectedEnd)") },
            "\(capture.lines)", file: file, line: line)
        XCTAssertEqual(try appendBatch(recovered).baseOffset, expectedEnd, file: file, line: line)
        try reopened.shutdown()
    }

    private func overwrite(_ path: String, at offset: Int64, with bytes: [UInt8]) throws {
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    func testRecoveryCutsATailCutMidBatch() throws {
        try assertRecovery(damage: { path, size in XCTAssertEqual(truncate(path, off_t(size - 7)), 0) }, expectedEnd: 45)
    }

    func testRecoveryCutsGarbageAppendedAfterTheLastBatch() throws {
        try assertRecovery(
            damage: { path, size in
                var generator = SeededGenerator(seed: 7)
                try self.overwrite(path, at: size, with: generator.bytes(3000))
            }, expectedEnd: 50)
    }

    func testRecoveryCutsABatchWithAFlippedByte() throws {
        try assertRecovery(
            damage: { path, size in try self.overwrite(path, at: size - 3, with: [0x5A]) }, expectedEnd: 45)
    }

    func testRecoveryCutsAHugeBatchLength() throws {
        try assertRecovery(
            damage: { path, size in
                // A well-formed start of a batch whose length claims 2 GiB.
                var header = makeBatch(count: 1)
                header.withUnsafeMutableBytes { BigEndian.store(UInt32(0x7FFF_FFFF), at: 8, in: $0) }
                try self.overwrite(path, at: size, with: Array(header.prefix(80)))
            }, expectedEnd: 50)
    }

    func testGroupCommitSharesFsyncsBetweenWaiters() throws {
        let logs = try manager(.sync)
        let log = try logs.createLog(TopicPartition("t", 0), config: LogConfig())
        let waiters = 200
        let done = expectation(description: "durable")
        done.expectedFulfillmentCount = waiters
        for _ in 0..<waiters {
            let result = try appendBatch(log)
            logs.whenDurable(log, upTo: result.logEndOffset) { outcome in
                if case .success = outcome { done.fulfill() }
            }
        }
        wait(for: [done], timeout: 30)
        XCTAssertGreaterThanOrEqual(log.recoveryPoint, 200)
        XCTAssertLessThan(logs.flushCount, waiters, "waiters must share fsyncs")
        try logs.shutdown()
    }

    func testCheckpointsAndLogStartSurviveRestart() throws {
        var logs = try manager()
        let a = try logs.createLog(TopicPartition("a", 0), config: LogConfig())
        _ = try logs.createLog(TopicPartition("b", 2), config: LogConfig())
        for _ in 0..<3 { try appendBatch(a, count: 4) }
        try logs.shutdown()
        let checkpoint = try String(contentsOfFile: directory.path + "/logs/recovery-point-offset-checkpoint", encoding: .utf8)
        XCTAssertEqual(checkpoint, "0\n2\na 0 12\nb 2 0\n")
        logs = try manager()
        XCTAssertEqual(Set(logs.allLogs.map(\.topicPartition)), [TopicPartition("a", 0), TopicPartition("b", 2)])
        XCTAssertEqual(logs.log(for: TopicPartition("a", 0))?.logEndOffset, 12)
        try logs.shutdown()
    }

    func testDeleteLogRemovesItsDirectory() throws {
        let logs = try manager()
        let log = try logs.createLog(TopicPartition("gone", 0), config: LogConfig())
        try appendBatch(log)
        try logs.deleteLog(TopicPartition("gone", 0))
        XCTAssertNil(logs.log(for: TopicPartition("gone", 0)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: log.directory))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/logs").filter { $0.hasPrefix("gone") }, [])
        try logs.shutdown()
    }

    func testUnusableLogDirectoryIsReported() throws {
        let file = directory.path + "/plain-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        XCTAssertThrowsError(try LogManager(logDirs: [file + "/logs"], flushMode: .sync, logger: quietLogger)) { error in
            XCTAssertEqual((error as? StorageError)?.code, .logDirUnavailable)
            XCTAssertTrue("\(error)".contains(file), "\(error)")
        }
    }
}
