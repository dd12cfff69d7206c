import Logging
import Synchronization
import TernWire

extension PartitionLog {
    /// A segment region a read will scan, noted under the lock (scalars only: copying a
    /// `Segment` out would share its index arrays and make the next append copy them).
    private struct ReadPlan {
        var file: SegmentFile
        var start: Int64
        var size: Int64
        /// The segment's read fence and its value under the lock (PartitionLog+Truncate).
        var fence: SegmentHandle
        var fenceValue: UInt64
    }

    /// How many times a read planned across a truncation is planned again before giving up.
    private static let readAttempts = 3

    /// Whole batches starting with the one holding `offset`, up to about `maxBytes`: at least the
    /// first batch even when it alone is larger (so consumers always progress), and never a batch
    /// whose base offset is at or past `maxOffset` (the high watermark). May span segments.
    ///
    /// Finds the segment by binary search on base offsets, the start by the offset index, then
    /// walks batch headers from there, reading the file 16 KiB at a time.
    /// - Throws: `offsetOutOfRange` when `offset` is below the log start or above the log end
    ///   (at the log end the result is empty); `corruptLog` when the data there cannot be read.
    public func read(from offset: Int64, maxBytes: Int, maxOffset: Int64) throws -> ReadResult {
        var attempt = 1
        while true {
            do {
                return try readOnce(from: offset, maxBytes: maxBytes, maxOffset: maxOffset)
            } catch let error as StorageError where error.code == .logTruncated && attempt < Self.readAttempts {
                attempt += 1
            }
        }
    }

    /// One planned read. The scan runs unlocked over files a truncation may cut meanwhile: a
    /// fence that moved during it means what it found may be other batches, so it throws
    /// `logTruncated` (``read`` plans again, under the lock, from the new state).
    private func readOnce(from offset: Int64, maxBytes: Int, maxOffset: Int64) throws -> ReadResult {
        let limit = max(maxBytes, 1)
        let (plans, start, end) = try state.withLock { state -> ([ReadPlan], Int64, Int64) in
            let start = state.logStartOffset
            let end = state.logEndOffset
            guard offset >= start && offset <= end else {
                throw StorageError(
                    .offsetOutOfRange, "\(topicPartition): offset \(offset) is outside the log's \(start)...\(end)")
            }
            guard offset < min(end, maxOffset) else { return ([], start, end) }
            var plans: [ReadPlan] = []
            var available: Int64 = 0
            var i = Self.segmentIndex(state.segments, containing: offset)
            while i < state.segments.count && state.segments[i].baseOffset < maxOffset {
                let segment = state.segments[i]
                var position: Int64 = 0
                if plans.isEmpty, offset > segment.baseOffset {
                    position = segment.offsetIndex.lookup(UInt32(clamping: offset - segment.baseOffset))?.position ?? 0
                }
                if segment.size > position {
                    let file: SegmentFile
                    do {
                        file = try segment.file
                    } catch let error as StorageError where error.code == .descriptorsExhausted && !plans.isEmpty {
                        // No descriptor to spare for one more segment (SegmentFileCache.openLimit):
                        // serve what is planned; the reader asks again from where it ends.
                        break
                    }
                    plans.append(
                        ReadPlan(
                            file: file, start: position, size: segment.size, fence: segment.handle,
                            fenceValue: segment.handle.truncations.load(ordering: .sequentiallyConsistent)))
                    available += segment.size - position
                }
                // Enough to fill the read, with one more segment in case the first ends in a gap.
                if available >= Int64(limit) && plans.count >= 2 { break }
                i += 1
            }
            return (plans, start, end)
        }
        var slices: [LogSlice] = []
        var total = 0
        var records = 0
        scan: for plan in plans {
            var scanner = BatchScanner(file: plan.file, limit: plan.size, from: plan.start, verifyCRC: false)
            var sliceStart: Int64?
            var sliceEnd: Int64 = 0
            var full = false
            while let entry = try scanner.next() {
                let header = entry.header
                if header.lastOffset < offset { continue }
                if header.baseOffset >= maxOffset || (total > 0 && total + header.totalSize > limit) {
                    full = true
                    break
                }
                if sliceStart == nil { sliceStart = entry.position }
                sliceEnd = entry.position + Int64(header.totalSize)
                total += header.totalSize
                records += Int(max(header.recordCount, 0))
            }
            guard plan.fence.truncations.load(ordering: .sequentiallyConsistent) == plan.fenceValue else {
                throw StorageError(.logTruncated, "\(topicPartition): truncated while offset \(offset) was read")
            }
            if let sliceStart {
                slices.append(
                    LogSlice(
                        file: plan.file, position: sliceStart, count: Int(sliceEnd - sliceStart), fence: plan.fence,
                        fenceValue: plan.fenceValue))
            }
            if full { break scan }
            if let stop = scanner.stop {
                // Only bytes that passed validation are below a segment's size, so this means
                // the disk changed under us. Serve what was good; fail if that is nothing.
                logger.warning(
                    "unreadable batch in \(plan.file.path) at position \(stop.position): \(stop.reason)",
                    metadata: ["tern_offset": "\(offset)"])
                guard total > 0 else {
                    throw StorageError(
                        .corruptLog,
                        "\(topicPartition): cannot read offset \(offset): "
                            + "\(plan.file.path) at position \(stop.position): \(stop.reason)"
                    )
                }
                break scan
            }
        }
        return ReadResult(
            slices: slices, byteCount: total, logStartOffset: start, logEndOffset: end, recordCount: records)
    }
}
