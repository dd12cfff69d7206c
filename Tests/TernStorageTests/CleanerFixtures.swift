import Foundation
import TernTestSupport
import TernWire
import XCTest

@testable import TernStorage

/// A record a cleaner test writes: key, value (nil: tombstone), headers.
struct KeyedRecord {
    var key: String?
    var value: String?
    var headers: [RecordHeader] = []
}

/// Appends `records` in batches of `perBatch`, batch i timestamped `baseTimestamp + i` and
/// record j of it `+ j`; returns the offsets given.
@discardableResult
func appendKeyed(
    _ log: PartitionLog, _ records: [KeyedRecord], perBatch: Int = 10, baseTimestamp: Int64 = defaultTestTimestamp,
    compression: CompressionCodec = .none
) throws -> [Int64] {
    var offsets: [Int64] = []
    var index = 0
    while index < records.count {
        let chunk = records[index..<min(index + perBatch, records.count)]
        let batchTimestamp = baseTimestamp + Int64(index)
        var builder = RecordBatchBuilder(baseTimestamp: batchTimestamp)
        for (j, record) in chunk.enumerated() {
            builder.append(
                key: record.key.map { Array($0.utf8) }, value: record.value.map { Array($0.utf8) },
                headers: record.headers, timestamp: batchTimestamp + Int64(j))
        }
        var bytes = builder.finish(compression: compression)
        let result = try appendProduced(log, &bytes)
        offsets += Array(result.baseOffset...result.lastOffset)
        index += perBatch
    }
    return offsets
}

/// Every record of the log, from its start.
func allRecords(_ log: PartitionLog) throws -> [Record] {
    // In as many reads as it takes: a read stops early when no descriptor is left for one more
    // segment (SegmentFileCache.openLimit).
    var records: [Record] = []
    var offset = log.logStartOffset
    while offset < log.logEndOffset {
        let read = try recordsOf(log.read(from: offset, maxBytes: 256 << 20, maxOffset: .max))
        let next = read.filter { $0.offset >= offset }
        guard let last = next.last else { break }
        records += next
        offset = last.offset + 1
    }
    return records
}

/// The records a full compaction of everything below `activeBase` must leave: the last record
/// of each key there (tombstones included unless `dropTombstones`), keyless records, and
/// everything from `activeBase` on.
func expectedAfterCleaning(_ records: [Record], activeBase: Int64, dropTombstones: Bool = false) -> [Record] {
    var last: [[UInt8]: Int64] = [:]
    for record in records where record.offset < activeBase {
        if let key = record.key { last[key] = record.offset }
    }
    return records.filter { record in
        guard record.offset < activeBase, let key = record.key else { return true }
        guard last[key] == record.offset else { return false }
        return !(dropTombstones && record.value == nil)
    }
}

func string(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
