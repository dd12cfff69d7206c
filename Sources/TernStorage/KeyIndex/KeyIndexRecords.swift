import TernWire

/// Walking the keyed records of batches, for the key index: the keys of appended batches (hashed
/// before the log's lock is taken), and the exact check of candidate records against a key.
enum KeyIndexRecords {
    /// Calls `body` with each keyed record of a non-control batch: its key's bytes and its offset
    /// delta. Gzip batches are inflated into `plain` (reused across calls).
    /// - Throws: ``WireError`` for broken record framing or a codec the broker cannot read.
    static func forEachKey(
        _ batch: UnsafeRawBufferPointer, header: RecordBatchHeader, plain: inout [UInt8],
        _ body: (UnsafeRawBufferPointer, Int32) throws -> Void
    ) throws {
        guard !header.isControl else { return }
        switch header.compression {
        case .some(.none):
            try RecordIterator.forEach(
                in: batch, from: RecordBatchHeader.size, to: batch.count, recordCount: header.recordCount
            ) { record in
                if let key = record.key { try body(UnsafeRawBufferPointer(rebasing: batch[key]), record.offsetDelta) }
            }
        case .some(.gzip):
            plain = try Gzip.decompress(
                UnsafeRawBufferPointer(rebasing: batch[RecordBatchHeader.size...]),
                limit: RecordBatchValidator.maxDecompressedBytes)
            try plain.withUnsafeBytes { raw in
                try RecordIterator.forEach(in: raw, from: 0, to: raw.count, recordCount: header.recordCount) { record in
                    if let key = record.key { try body(UnsafeRawBufferPointer(rebasing: raw[key]), record.offsetDelta) }
                }
            }
        default:
            throw WireError(.unsupportedCompression, "compression \(header.attributes & 7) cannot be key-indexed")
        }
    }

    /// The key hashes of appended batches and their records' offsets: relative to the first
    /// assigned offset when `assigned` (a produce: batch i starts where batch i-1 ended), else
    /// the batches' own offsets (a follower append). One pass per batch, no per-record allocation.
    static func additions(_ bytes: [UInt8], batches: [ValidatedBatch], assigned: Bool, bits: Int) throws
        -> (hashes: [UInt64], offsets: [Int64])
    {
        let records = batches.reduce(0) { $0 + Int(max($1.header.recordCount, 0)) }
        var hashes: [UInt64] = []
        var offsets: [Int64] = []
        hashes.reserveCapacity(records)
        offsets.reserveCapacity(records)
        var plain: [UInt8] = []
        var next: Int64 = 0
        try bytes.withUnsafeBytes { raw in
            for batch in batches {
                let header = batch.header
                let base = assigned ? next : header.baseOffset
                next += Int64(header.lastOffsetDelta) + 1
                let slice = UnsafeRawBufferPointer(rebasing: raw[batch.position..<batch.position + batch.size])
                try forEachKey(slice, header: header, plain: &plain) { key, delta in
                    hashes.append(KeyIndexHash.hash(key, bits: bits))
                    offsets.append(base + Int64(delta))
                }
            }
        }
        return (hashes, offsets)
    }

    /// Every (hash, relative offset) of the keyed records of a segment file, in offset order,
    /// reading it with CRC checks.
    static func scan(
        file: SegmentFile, size: Int64, baseOffset: Int64, bits: Int, _ body: (UInt64, UInt32) -> Void
    ) throws {
        var scanner = BatchScanner(file: file, limit: size, from: 0, verifyCRC: true)
        var plain: [UInt8] = []
        while let entry = try scanner.next() {
            let header = entry.header
            try scanner.withLastBatch(entry) { batch in
                do {
                    try forEachKey(batch, header: header, plain: &plain) { key, delta in
                        body(
                            KeyIndexHash.hash(key, bits: bits),
                            UInt32(truncatingIfNeeded: header.baseOffset + Int64(delta) - baseOffset))
                    }
                } catch let error as WireError {
                    throw StorageError(
                        .corruptLog, "\(file.path): batch at position \(entry.position): \(error.message)")
                }
            }
        }
        if let stop = scanner.stop {
            throw StorageError(.corruptLog, "\(file.path) at position \(stop.position): \(stop.reason)")
        }
    }

    /// A candidate record: its offset and where a scan for it may start in the segment file
    /// (the offset index's entry at or before it).
    struct Candidate: Sendable {
        var offset: Int64
        var from: Int64
    }

    /// A batch holding records of the key: where it is, and which of its offsets are the key's.
    struct MatchedBatch {
        var position: Int64
        var size: Int
        var header: RecordBatchHeader
        var offsets: [Int64]
    }

    /// Reads the batches holding `candidates` (ascending) in `file` (bytes below `limit`) and calls
    /// `body` for each one holding at least one record whose key is `key` byte for byte, in
    /// order, until it returns false. Candidates whose record is gone (a gap) or has another key
    /// (a hash collision) are skipped. Each batch is read once, with its CRC checked.
    static func confirm(
        file: SegmentFile, limit: Int64, candidates: [Candidate], key: [UInt8],
        _ body: (MatchedBatch) throws -> Bool
    ) throws {
        var i = 0
        var scanner: BatchScanner?
        var plain: [UInt8] = []
        while i < candidates.count {
            if scanner == nil || candidates[i].from > scanner?.position ?? 0 {
                scanner = BatchScanner(file: file, limit: limit, from: candidates[i].from, verifyCRC: true)
            }
            guard var current = scanner, let entry = try current.next() else {
                if let stop = scanner?.stop {
                    throw StorageError(.corruptLog, "\(file.path) at position \(stop.position): \(stop.reason)")
                }
                return
            }
            scanner = current
            let header = entry.header
            guard header.lastOffset >= candidates[i].offset else { continue }
            var j = i
            while j < candidates.count && candidates[j].offset <= header.lastOffset { j += 1 }
            let wanted = candidates[i..<j]
            i = j
            var matched: [Int64] = []
            try current.withLastBatch(entry) { batch in
                do {
                    try forEachKey(batch, header: header, plain: &plain) { recordKey, delta in
                        let offset = header.baseOffset + Int64(delta)
                        guard wanted.contains(where: { $0.offset == offset }), recordKey.elementsEqual(key) else {
                            return
                        }
                        matched.append(offset)
                    }
                } catch let error as WireError {
                    throw StorageError(
                        .corruptLog, "\(file.path): batch at position \(entry.position): \(error.message)")
                }
            }
            if !matched.isEmpty {
                let batch = MatchedBatch(
                    position: entry.position, size: header.totalSize, header: header, offsets: matched)
                guard try body(batch) else { return }
            }
        }
    }
}
