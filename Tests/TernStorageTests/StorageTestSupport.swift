import Logging
import TernStorage
import TernTestSupport
import TernWire

/// Appends one validated batch of `count` records to `log`.
@discardableResult
func appendBatch(
    _ log: PartitionLog, count: Int = 1, timestamp: Int64 = defaultTestTimestamp, valueSize: Int? = nil
) throws -> AppendResult {
    var bytes = makeBatch(count: count, baseTimestamp: timestamp, valueSize: valueSize)
    let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
    return try log.append(&bytes, batches: batches, leaderEpoch: 0)
}

/// Every record readable from `log` starting at `offset`, following reads to the end.
func readAll(_ log: PartitionLog, from offset: Int64 = 0) throws -> [Record] {
    var records: [Record] = []
    var next = max(offset, log.logStartOffset)
    while next < log.logEndOffset {
        let result = try log.read(from: next, maxBytes: 64 * 1024, maxOffset: Int64.max)
        guard result.byteCount > 0 else { break }
        let before = records.count
        try RecordBatchDecoder.decode(try result.readBytes(), minOffset: next, into: &records)
        guard let last = records.last, records.count > before else { break }
        next = last.offset + 1
    }
    return records
}

let quietLogger = Logger(label: "tern.storage.test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Collects log lines so tests can assert warnings.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    // @unchecked: `lines` is only mutated under `lock`.
    private let lock = NSLockLike()
    private var storage: [String] = []
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lock.withLock { storage.append("\(event.level) \(event.message)") }
    }

    var lines: [String] { lock.withLock { storage } }
}

import Synchronization

/// A tiny lock wrapper over `Mutex<Void>` usable from a class.
final class NSLockLike: Sendable {
    private let mutex = Mutex(())
    func withLock<T>(_ body: () throws -> T) rethrows -> T { try mutex.withLock { _ in try body() } }
}
