import Foundation
import Logging
import Synchronization
@testable import TernStorage
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system's temporary directory, removed when released.
final class ScratchDirectory: Sendable {
    let path: String

    init(_ function: String = #function) throws {
        let name = function.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "tern-storage-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Collects log events so tests can check warnings and their metadata.
final class LogCapture: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    var all: [Entry] { entries.withLock { $0 } }
    var warnings: [Entry] { all.filter { $0.level == .warning } }

    func record(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    /// A logger feeding this capture.
    func logger() -> Logger {
        Logger(label: "tern.storage.test") { _ in CaptureLogHandler(capture: self) }
    }
}

struct CaptureLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        for (key, value) in event.metadata ?? [:] { merged[key] = value }
        capture.record(
            .init(
                level: event.level, message: event.message.description,
                metadata: merged.mapValues { "\($0)" }))
    }
}

/// A batch appended in a test: where it landed and what it held.
struct AppendedBatch {
    var baseOffset: Int64
    var lastOffset: Int64
    var records: [TestRecord]
    var size: Int
}

/// Appends one produced batch per element of `counts` (each with its own `append` call) and
/// returns what was appended.
@discardableResult
func appendBatches(
    _ log: PartitionLog, counts: [Int], valueSize: Int? = nil, baseTimestamp: Int64 = defaultTestTimestamp,
    leaderEpoch: Int32 = 0, file: StaticString = #filePath, line: UInt = #line
) throws -> [AppendedBatch] {
    var appended: [AppendedBatch] = []
    for (i, count) in counts.enumerated() {
        let timestamp = baseTimestamp + Int64(i) * 1000
        let records = testRecords(count: count, baseTimestamp: timestamp, valueSize: valueSize)
        var bytes = makeBatch(records: records, baseTimestamp: timestamp)
        let result = try appendProduced(log, &bytes, leaderEpoch: leaderEpoch)
        XCTAssertEqual(result.lastOffset - result.baseOffset + 1, Int64(count), file: file, line: line)
        appended.append(
            AppendedBatch(
                baseOffset: result.baseOffset, lastOffset: result.lastOffset, records: records, size: bytes.count))
    }
    return appended
}

/// Validates a produce payload as the broker does, then appends it.
@discardableResult
func appendProduced(_ log: PartitionLog, _ bytes: inout [UInt8], leaderEpoch: Int32 = 0) throws -> AppendResult {
    let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
    return try log.append(&bytes, batches: batches, leaderEpoch: leaderEpoch)
}

/// Decodes every record a read returned, checking the slices hold only whole, valid batches.
func recordsOf(_ result: ReadResult, file: StaticString = #filePath, line: UInt = #line) throws -> [Record] {
    let bytes = try result.readBytes()
    XCTAssertEqual(bytes.count, result.byteCount, "byteCount", file: file, line: line)
    XCTAssertEqual(result.slices.reduce(0) { $0 + $1.count }, result.byteCount, file: file, line: line)
    var position = 0
    try bytes.withUnsafeBytes { raw in
        while position < raw.count {
            let header = try RecordBatchValidator.validateStored(raw, at: position)
            position += header.totalSize
        }
    }
    XCTAssertEqual(position, bytes.count, "the read ends on a batch boundary", file: file, line: line)
    return try decodeRecords(bytes)
}

/// The headers of the whole batches in a read.
func batchHeaders(_ result: ReadResult) throws -> [RecordBatchHeader] {
    let bytes = try result.readBytes()
    var headers: [RecordBatchHeader] = []
    var position = 0
    while let header = RecordBatchHeader(bytes, at: position), header.totalSize <= bytes.count - position {
        headers.append(header)
        position += header.totalSize
    }
    return headers
}

/// File helpers for corrupting logs on disk.
enum DiskSurgery {
    static func segmentName(_ base: Int64, _ suffix: String) -> String {
        let digits = String(base)
        return String(repeating: "0", count: 20 - digits.count) + digits + suffix
    }

    static func size(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.intValue ?? -1
    }

    static func contents(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Cuts the file to `size` bytes.
    static func truncate(_ path: String, to size: Int) throws {
        guard Glibc.truncate(path, off_t(size)) == 0 else {
            throw StorageError(.ioError, "truncate \(path) failed: errno \(errno)")
        }
    }

    /// Overwrites bytes at `position` (extending the file when needed).
    static func overwrite(_ path: String, at position: Int, with bytes: [UInt8]) throws {
        var contents = try contents(path)
        if contents.count < position + bytes.count {
            contents += [UInt8](repeating: 0, count: position + bytes.count - contents.count)
        }
        contents.replaceSubrange(position..<position + bytes.count, with: bytes)
        try write(contents, to: path)
    }

    static func append(_ path: String, _ bytes: [UInt8]) throws {
        try write(try contents(path) + bytes, to: path)
    }

    /// Positions of the batches in a log file, as written.
    static func batchPositions(_ path: String) throws -> [(position: Int, header: RecordBatchHeader)] {
        let bytes = try contents(path)
        var result: [(Int, RecordBatchHeader)] = []
        var position = 0
        while let header = RecordBatchHeader(bytes, at: position), header.batchLength > 0,
            header.totalSize <= bytes.count - position
        {
            result.append((position, header))
            position += header.totalSize
        }
        return result
    }

    /// Deterministic garbage.
    static func garbage(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }
}

extension XCTestCase {
    /// Asserts that `body` throws a ``StorageError`` with `code`, and returns it.
    @discardableResult
    func assertStorageError<T>(
        _ code: StorageError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
    ) -> StorageError? {
        do {
            _ = try body()
            XCTFail("expected \(code), got no error", file: file, line: line)
        } catch let error as StorageError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("expected StorageError \(code), got \(error)", file: file, line: line)
        }
        return nil
    }
}

/// A log manager over a temporary directory, and the logs it made, for tests.
final class StorageFixture {
    let directory: ScratchDirectory
    let capture = LogCapture()
    let flushMode: FlushMode
    let flushIntervalMs: Int64?
    let checkpointIntervalMs: Int64?
    private(set) var manager: LogManager
    let topicPartition = TopicPartition("orders", 3)

    init(
        flushMode: FlushMode = .sync, flushIntervalMs: Int64? = nil, checkpointIntervalMs: Int64? = nil,
        function: String = #function
    ) throws {
        directory = try ScratchDirectory(function)
        self.flushMode = flushMode
        self.flushIntervalMs = flushIntervalMs
        self.checkpointIntervalMs = checkpointIntervalMs
        manager = try LogManager(
            logDirs: [directory.path], flushMode: flushMode, logger: capture.logger(), flushIntervalMs: flushIntervalMs,
            checkpointIntervalMs: checkpointIntervalMs)
    }

    var logDir: String { directory.path }
    var partitionDir: String { directory.path + "/" + topicPartition.description }

    func segmentPath(_ base: Int64, _ suffix: String = ".log") -> String {
        partitionDir + "/" + DiskSurgery.segmentName(base, suffix)
    }

    /// Creates (or returns) the fixture's partition log.
    func log(_ config: LogConfig = LogConfig()) throws -> PartitionLog {
        try manager.createLog(topicPartition, config: config)
    }

    /// Opens a new manager over the same directory (the old one must be shut down or abandoned).
    func reopen(config: LogConfig = LogConfig()) throws -> LogManager {
        // A crashed process writes nothing more: stop the old manager's background threads
        // (without its clean shutdown), or its periodic checkpoint writes race the new manager's
        // on the same `.tmp` files and one rename finds the other's file gone.
        manager.backgroundFlusher.stop()
        manager.flusher.stop()
        manager = try LogManager(
            logDirs: [directory.path], flushMode: flushMode, logger: capture.logger(), flushIntervalMs: flushIntervalMs,
            checkpointIntervalMs: checkpointIntervalMs, configProvider: { _ in config })
        return manager
    }

    /// Simulates a crash after `shutdown`: the clean-shutdown marker goes.
    func removeCleanMarker() throws {
        try FileManager.default.removeItem(atPath: directory.path + "/.tern-clean-shutdown")
    }
}

/// A flag shared between threads in a test.
final class ManagedAtomicFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}

/// A counter shared between threads in a test.
final class ManagedCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }
}
