import Logging
import Synchronization
import TernWire

// The key index (`key.index.enable`): per segment, the 64-bit hash of each keyed record's key and
// its offset. The active segment's index lives in memory (``MemoryKeyIndex``) and grows with
// appends under `state`; a sealed segment's is written to `N.keyindex` (``KeyIndexFile``) off the
// append path (``sealKeyIndexes()``: the background flusher after a roll, the cleaner after a
// swap, `close`), and rebuilt from the segment when missing or damaged. Answers are exact: each
// candidate record is read and its key compared byte for byte.
//
// Lock order: `maintenanceLock`, then `state`. Sealing holds `maintenanceLock` (so no swap,
// retention or truncation changes the segments it writes for) and takes `state` only to note
// what to write and to switch a segment to its file.

extension PartitionLog {
    /// True when the log keeps a key index (its topic has `key.index.enable=true`).
    public var isKeyIndexed: Bool { state.withLock { $0.config.keyIndexEnabled } }

    /// Offset of the latest retained record whose key equals `key` byte for byte, or nil if
    /// none. Exact: a hash collision never answers for another key. Includes records appended but
    /// not yet flushed.
    /// - Throws: `keyIndexDisabled` when the log keeps no key index; `closed`; `corruptLog` or
    ///   `ioError` when the records cannot be read.
    public func lastOffset(ofKey key: [UInt8]) throws -> Int64? {
        try state.withLock { state in try lastOffset(ofKey: key, in: state) }
    }

    /// ``lastOffset(ofKey:)`` for a caller already holding `state` (an append checking a
    /// condition atomically with itself). Reads a few batches (one per candidate) with the lock held.
    func lastOffset(ofKey key: [UInt8], in state: State) throws -> Int64? {
        try checkUsable(state)
        guard state.config.keyIndexEnabled else {
            throw StorageError(.keyIndexDisabled, "\(topicPartition) keeps no key index (key.index.enable=false)")
        }
        let bits = state.config.keyIndexHashBits
        let hash = KeyIndexHash.hash(key, bits: bits)
        for i in state.segments.indices.reversed() {
            let segment = state.segments[i]
            guard segment.nextOffset > state.logStartOffset else { break }
            guard segment.size > 0 else { continue }
            let relatives = try candidates(in: segment, hash: hash, from: 0, bits: bits)
            // Newest first: the first confirmed candidate is the answer.
            for relative in relatives.reversed() {
                let offset = segment.baseOffset + Int64(relative)
                guard offset >= state.logStartOffset else { break }
                let candidate = KeyIndexRecords.Candidate(offset: offset, from: segment.scanStart(for: offset))
                var found = false
                try KeyIndexRecords.confirm(
                    file: try segment.file, limit: segment.size, candidates: [candidate], key: key
                ) { _ in
                    found = true
                    return false
                }
                if found { return offset }
            }
        }
        return nil
    }

    /// The relative offsets the index names for `hash` in `segment` (ascending, at or after
    /// `from`); a segment whose index is missing or damaged is scanned instead (exact, slower).
    private func candidates(in segment: Segment, hash: UInt64, from: UInt32, bits: Int) throws -> [UInt32] {
        switch segment.keyIndex {
        case .memory(let index):
            return index.offsets(of: hash, from: from)
        case .file(let file):
            do {
                return try file.offsets(of: hash, from: from)
            } catch let error as StorageError where error.code == .corruptLog {
                damagedKeyIndexes.withLock { _ = $0.insert(segment.baseOffset) }
                logger.warning(
                    "the key index \(file.path) is damaged; scanning the segment until it is rebuilt",
                    metadata: ["error": "\(error.message)"])
            }
        case nil:
            break
        }
        var found: [UInt32] = []
        try KeyIndexRecords.scan(file: try segment.file, size: segment.size, baseOffset: segment.baseOffset, bits: bits)
        { entryHash, relative in
            if entryHash == hash && relative >= from { found.append(relative) }
        }
        return found
    }

    /// The key's records from `offset` on, in offset order: the whole batches that hold them, up
    /// to about `maxBytes` (at least one batch), never a batch whose base offset is at or past
    /// `maxOffset` (the high watermark or last stable offset, as for a fetch). Only the batches
    /// the index names are read. An offset below the log start reads from the log start.
    /// - Throws: `keyIndexDisabled`; `offsetOutOfRange` for a negative offset or one past the log
    ///   end; `closed`; `corruptLog` or `ioError` when the records cannot be read.
    public func readKey(_ key: [UInt8], from offset: Int64, maxOffset: Int64, maxBytes: Int) throws -> KeyReadResult {
        struct Plan {
            var file: SegmentFile
            var size: Int64
            var candidates: [KeyIndexRecords.Candidate]
            /// The segment's truncation fence and its value under the lock (PartitionLog+Truncate).
            var fence: SegmentHandle
            var fenceValue: UInt64
        }
        let limit = max(maxBytes, 1)
        let (plans, start, end, bound) = try state.withLock { state -> ([Plan], Int64, Int64, Int64) in
            try checkUsable(state)
            guard state.config.keyIndexEnabled else {
                throw StorageError(.keyIndexDisabled, "\(topicPartition) keeps no key index (key.index.enable=false)")
            }
            let start = state.logStartOffset
            let end = state.logEndOffset
            guard offset >= 0, offset <= end else {
                throw StorageError(
                    .offsetOutOfRange, "\(topicPartition): offset \(offset) is outside the log's 0...\(end)")
            }
            let bound = min(end, maxOffset)
            let from = max(offset, start)
            let bits = state.config.keyIndexHashBits
            let hash = KeyIndexHash.hash(key, bits: bits)
            var plans: [Plan] = []
            guard from < bound else { return (plans, start, end, max(bound, from)) }
            var i = Self.segmentIndex(state.segments, containing: from)
            while i < state.segments.count && state.segments[i].baseOffset < bound {
                let segment = state.segments[i]
                i += 1
                guard segment.size > 0 else { continue }
                let relativeFrom = UInt32(clamping: max(0, from - segment.baseOffset))
                let found = try candidates(in: segment, hash: hash, from: relativeFrom, bits: bits)
                let list = found.map { segment.baseOffset + Int64($0) }.filter { $0 >= from && $0 < bound }
                guard !list.isEmpty else { continue }
                plans.append(
                    Plan(
                        file: try segment.file, size: segment.size,
                        candidates: list.map { .init(offset: $0, from: segment.scanStart(for: $0)) },
                        fence: segment.handle,
                        fenceValue: segment.handle.truncations.load(ordering: .sequentiallyConsistent)))
            }
            return (plans, start, end, bound)
        }
        var slices: [LogSlice] = []
        var offsets: [Int64] = []
        var total = 0
        var resume = bound
        var full = false
        for plan in plans where !full {
            try KeyIndexRecords.confirm(file: plan.file, limit: plan.size, candidates: plan.candidates, key: key) {
                batch in
                if total > 0 && total + batch.size > limit {
                    full = true
                    return false
                }
                slices.append(
                    LogSlice(
                        file: plan.file, position: batch.position, count: batch.size, fence: plan.fence,
                        fenceValue: plan.fenceValue))
                offsets += batch.offsets
                total += batch.size
                resume = batch.header.lastOffset + 1
                return true
            }
            // What was confirmed may be other batches if a truncation cut the file meanwhile.
            guard plan.fence.truncations.load(ordering: .sequentiallyConsistent) == plan.fenceValue else {
                throw StorageError(.logTruncated, "\(topicPartition): truncated while key offsets were read")
            }
        }
        let next = full ? resume : bound
        return KeyReadResult(
            slices: slices, byteCount: total, offsets: offsets, nextOffset: next, logStartOffset: start,
            logEndOffset: end)
    }
}

extension Segment {
    /// Where a scan for the batch holding `offset` may start: the offset index's entry at or before it.
    func scanStart(for offset: Int64) -> Int64 {
        offsetIndex.lookup(UInt32(clamping: max(0, offset - baseOffset)))?.position ?? 0
    }
}
