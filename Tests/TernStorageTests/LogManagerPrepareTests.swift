import Foundation
import Logging
import TernStorage
import TernTestSupport
import XCTest

/// Creating many logs all-or-nothing (prepare, then publish or discard), deleting many, and
/// start-up dropping partitions nobody wants.
final class LogManagerPrepareTests: XCTestCase {
    private func partitions(_ topic: String, _ count: Int32) -> [TopicPartition] {
        (0..<count).map { TopicPartition(topic, $0) }
    }

    private func entries(_ dir: String, _ prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(prefix) }.sorted()
    }

    func testPreparedLogsAreInvisibleUntilPublished() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        let prepared = try manager.prepareLogs(partitions("t", 3), config: LogConfig())
        XCTAssertEqual(prepared.count, 3)
        XCTAssertEqual(try entries(root.path, "t-"), ["t-0", "t-1", "t-2"])
        XCTAssertNil(manager.log(for: TopicPartition("t", 0)))
        XCTAssertEqual(manager.allLogs.count, 0)
        try manager.publish(prepared)
        XCTAssertEqual(manager.allLogs.count, 3)
        XCTAssertEqual(manager.log(for: TopicPartition("t", 2))?.logEndOffset, 0)
        try manager.shutdown()
    }

    func testDiscardRemovesEverythingPrepared() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        manager.discard(try manager.prepareLogs(partitions("t", 4), config: LogConfig()))
        XCTAssertEqual(try entries(root.path, "t-"), [])
        XCTAssertEqual(manager.allLogs.count, 0)
        try manager.shutdown()
    }

    func testAFailureMidwayRemovesWhatWasMade() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        XCTAssertTrue(FileManager.default.createFile(atPath: root.path + "/t-5", contents: Data("x".utf8)))
        let error = assertStorageError(.ioError) {
            _ = try manager.prepareLogs(partitions("t", 10), config: LogConfig())
        }
        XCTAssertTrue(error?.message.contains("t-5") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try entries(root.path, "t-"), ["t-5"], "only the file that was in the way is left")
        XCTAssertEqual(manager.allLogs.count, 0)
        try manager.shutdown()
    }

    func testAbandonedPreparationThrowsCancelledAndLeavesNothing() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        var asked = 0
        assertStorageError(.cancelled) {
            _ = try manager.prepareLogs(partitions("t", 10), config: LogConfig()) {
                asked += 1
                return asked <= 3
            }
        }
        // Abandoned (a stop): only renamed `-delete` directories are left, for start-up to remove.
        XCTAssertEqual(try entries(root.path, "t-").filter { !$0.hasSuffix("-delete") }, [])
        XCTAssertEqual(try entries(root.path, "t-").count, 3)
        try manager.shutdown()
        let reopened = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        XCTAssertEqual(try entries(root.path, "t-"), [])
        XCTAssertEqual(reopened.allLogs.count, 0)
        try reopened.shutdown()
    }

    func testPreparingOverALeftoverDirectoryReplacesIt() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        try FileManager.default.createDirectory(atPath: root.path + "/t-0", withIntermediateDirectories: false)
        XCTAssertTrue(FileManager.default.createFile(atPath: root.path + "/t-0/stale", contents: nil))
        try manager.publish(try manager.prepareLogs(partitions("t", 1), config: LogConfig()))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.path + "/t-0/stale"))
        XCTAssertEqual(manager.log(for: TopicPartition("t", 0))?.logEndOffset, 0)
        try manager.shutdown()
    }

    func testPublishAfterShutdownRemovesThePreparedLogs() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        let prepared = try manager.prepareLogs(partitions("t", 2), config: LogConfig())
        try manager.shutdown()
        do {
            try manager.publish(prepared)
            XCTFail("published after shutdown")
        } catch let error as StorageError {
            XCTAssertEqual(error.code, .closed)
        }
        XCTAssertEqual(try entries(root.path, "t-"), [])
    }

    func testDeleteLogsRemovesEveryDirectory() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(
            logDirs: [root.path + "/a", root.path + "/b"], flushMode: .sync, logger: LogCapture().logger())
        try manager.publish(try manager.prepareLogs(partitions("t", 6), config: LogConfig()))
        XCTAssertEqual(try entries(root.path + "/a", "t-").count, 3)
        try manager.deleteLogs(partitions("t", 6) + [TopicPartition("absent", 0)])
        XCTAssertEqual(manager.allLogs.count, 0)
        XCTAssertEqual(try entries(root.path + "/a", "t-") + entries(root.path + "/b", "t-"), [])
        try manager.shutdown()
    }

    func testStartUpRemovesUnwantedPartitionsWithoutOpeningThem() throws {
        let root = try ScratchDirectory()
        let manager = try LogManager(logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger())
        try manager.publish(
            try manager.prepareLogs(partitions("kept", 2) + partitions("dropped", 2), config: LogConfig()))
        try manager.shutdown()
        // A segment that could not be opened as a log: proof that the unwanted one is not opened.
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: root.path + "/dropped-1/00000000000000000000.log", contents: Data("junk".utf8)))
        let reopened = try LogManager(
            logDirs: [root.path], flushMode: .sync, logger: LogCapture().logger(), keep: { $0.topic == "kept" })
        XCTAssertEqual(reopened.allLogs.map(\.topicPartition.description).sorted(), ["kept-0", "kept-1"])
        XCTAssertEqual(try entries(root.path, "dropped"), [])
        try reopened.shutdown()
    }
}
