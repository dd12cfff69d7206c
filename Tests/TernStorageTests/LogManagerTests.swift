import Foundation
import Logging
@testable import TernStorage
import TernTestSupport
import TernWire
import XCTest

final class LogManagerTests: XCTestCase {
    func testCreateLogIsIdempotentAndMakesTheDirectory() throws {
        let fixture = try StorageFixture()
        let first = try fixture.log()
        let second = try fixture.log()
        XCTAssertTrue(first === second)
        XCTAssertTrue(fixture.manager.log(for: fixture.topicPartition) === first)
        XCTAssertEqual(fixture.manager.allLogs.count, 1)
        XCTAssertEqual(first.topicPartition.description, "orders-3")
        XCTAssertTrue(FileManager.default.fileExists(atPath: fixture.segmentPath(0)))
        XCTAssertNil(fixture.manager.log(for: TopicPartition("orders", 4)))
    }

    func testCreateLogSpreadsPartitionsOverDirectories() throws {
        let root = try ScratchDirectory()
        let dirs = [root.path + "/a", root.path + "/b", root.path + "/c"]
        let manager = try LogManager(logDirs: dirs, flushMode: .sync, logger: LogCapture().logger())
        for partition in 0..<6 { _ = try manager.createLog(TopicPartition("t", Int32(partition)), config: LogConfig()) }
        for dir in dirs {
            let partitions = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("t-") }
            XCTAssertEqual(partitions.count, 2, dir)
        }
        try manager.shutdown()
        let reopened = try LogManager(logDirs: dirs, flushMode: .sync, logger: LogCapture().logger())
        XCTAssertEqual(reopened.allLogs.count, 6)
        XCTAssertTrue(reopened.openedCleanly)
        try reopened.shutdown()
    }

    func testDeleteLogRemovesTheDirectory() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try appendBatches(log, counts: [3])
        try fixture.manager.deleteLog(fixture.topicPartition)
        XCTAssertNil(fixture.manager.log(for: fixture.topicPartition))
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.partitionDir))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.logDir)
            .filter { $0.hasPrefix("orders") }
        XCTAssertEqual(leftovers, [])
        var bytes = makeBatch(count: 1)
        assertStorageError(.closed) { try appendProduced(log, &bytes) }
        // Re-creating starts from offset 0.
        XCTAssertEqual(try fixture.log().logEndOffset, 0)
    }

    func testDeleteLogDropsThePartitionFromTheRecoveryCheckpoint() throws {
        // A topic deleted and created again must not inherit the old log's recovery point: the
        // new log would trust (and skip recovering) data that was never synced.
        let fixture = try StorageFixture()
        let log = try fixture.log()
        let other = try fixture.manager.createLog(TopicPartition("payments", 0), config: LogConfig())
        try appendBatches(log, counts: [3, 3])
        try appendBatches(other, counts: [2])
        try log.flush()
        try other.flush()
        try fixture.manager.writeCheckpoints()
        let path = fixture.logDir + "/" + LogManager.recoveryPointCheckpoint
        XCTAssertEqual(try OffsetCheckpoint.read(path)[fixture.topicPartition], 6)
        try fixture.manager.deleteLog(fixture.topicPartition)
        let after = try OffsetCheckpoint.read(path)
        XCTAssertNil(after[fixture.topicPartition], "the deleted partition's recovery point is still checkpointed")
        XCTAssertEqual(after[TopicPartition("payments", 0)], 2)
    }

    func testInterruptedDeleteIsFinishedAtStartup() throws {
        let fixture = try StorageFixture()
        try appendBatches(try fixture.log(), counts: [3])
        try fixture.manager.shutdown()
        let doomed = fixture.partitionDir + ".0123abcd-delete"
        try FileManager.default.moveItem(atPath: fixture.partitionDir, toPath: doomed)
        let manager = try fixture.reopen()
        XCTAssertFalse(FileManager.default.fileExists(atPath: doomed))
        XCTAssertTrue(manager.allLogs.isEmpty)
        try manager.shutdown()
    }

    func testUnwritableLogDirThrowsLogDirUnavailable() throws {
        let root = try ScratchDirectory()
        let file = root.path + "/not-a-directory"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1])))
        let dir = file + "/logs"
        let error = assertStorageError(.logDirUnavailable) {
            try LogManager(logDirs: [dir], flushMode: .sync, logger: LogCapture().logger())
        }
        XCTAssertTrue(error?.message.contains(dir) ?? false, error?.message ?? "")
    }

    func testShutdownWritesMarkerAndCheckpoints() throws {
        let fixture = try StorageFixture()
        let other = try fixture.manager.createLog(TopicPartition("payments", 0), config: LogConfig())
        let log = try fixture.log()
        try appendBatches(log, counts: [3, 4])
        try appendBatches(other, counts: [2])
        try fixture.manager.shutdown()
        XCTAssertTrue(FileManager.default.fileExists(atPath: fixture.logDir + "/.tern-clean-shutdown"))
        let recovery = try String(
            contentsOfFile: fixture.logDir + "/recovery-point-offset-checkpoint", encoding: .utf8)
        XCTAssertEqual(recovery, "0\n2\norders 3 7\npayments 0 2\n")
        let start = try String(contentsOfFile: fixture.logDir + "/log-start-offset-checkpoint", encoding: .utf8)
        XCTAssertEqual(start, "0\n2\norders 3 0\npayments 0 0\n")
        // No temporary files left behind by the atomic writes.
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.logDir)
        XCTAssertFalse(names.contains { $0.hasSuffix(".tmp") }, "\(names)")
        var bytes = makeBatch(count: 1)
        assertStorageError(.closed) { try appendProduced(log, &bytes) }
    }

    func testLogStartOffsetSurvivesRestartThroughItsCheckpoint() throws {
        let fixture = try StorageFixture()
        let config = LogConfig(segmentBytes: 800)
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 2, count: 30), valueSize: 30)
        let start = appended[12].baseOffset + 1
        try log.advanceLogStartOffset(to: start)
        try fixture.manager.shutdown()
        let text = try String(contentsOfFile: fixture.logDir + "/log-start-offset-checkpoint", encoding: .utf8)
        XCTAssertEqual(text, "0\n1\norders 3 \(start)\n")
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.logStartOffset, start)
        assertStorageError(.offsetOutOfRange) { try reopened.read(from: start - 1, maxBytes: 100, maxOffset: .max) }
        // Reading at the start returns the batch holding it.
        let headers = try batchHeaders(reopened.read(from: start, maxBytes: 1, maxOffset: .max))
        XCTAssertEqual(headers.first?.baseOffset, appended[12].baseOffset)
        try fixture.manager.shutdown()
    }

    func testBadCheckpointFallsBackToFullRecovery() throws {
        let fixture = try StorageFixture()
        try appendBatches(try fixture.log(), counts: Array(repeating: 2, count: 5))
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        try DiskSurgery.write(Array("garbage\n".utf8), to: fixture.logDir + "/recovery-point-offset-checkpoint")
        let log = try XCTUnwrap(fixture.reopen().log(for: fixture.topicPartition))
        XCTAssertEqual(log.logEndOffset, 10)
        XCTAssertFalse(fixture.capture.warnings.isEmpty, "the unreadable checkpoint is reported")
        try fixture.manager.shutdown()
    }

    func testIgnoresUnrelatedEntriesInTheLogDir() throws {
        let fixture = try StorageFixture()
        try fixture.manager.shutdown()
        try FileManager.default.createDirectory(
            atPath: fixture.logDir + "/lost+found", withIntermediateDirectories: true)
        try DiskSurgery.write([1, 2, 3], to: fixture.logDir + "/meta.properties")
        let manager = try fixture.reopen()
        XCTAssertTrue(manager.allLogs.isEmpty)
        try manager.shutdown()
    }

    func testTopicNamesWithDashesRoundTrip() throws {
        let fixture = try StorageFixture()
        let tp = TopicPartition("my-topic-name", 12)
        try appendBatches(try fixture.manager.createLog(tp, config: LogConfig()), counts: [2])
        try fixture.manager.shutdown()
        let log = try XCTUnwrap(fixture.reopen().log(for: tp))
        XCTAssertEqual(log.logEndOffset, 2)
        try fixture.manager.shutdown()
    }
}
