import Logging
import Synchronization
import TernWire

extension PartitionLog {
    /// Appends validated batches: `bytes` is a produce request's record set and `batches` are
    /// what `RecordBatchValidator.validateProduced` returned for it.
    ///
    /// Assigns consecutive offsets by patching each batch's `baseOffset` and
    /// `partitionLeaderEpoch` in place (both lie outside the CRC, so the batches stay valid), rolls
    /// to a new segment first when the active one is full or old, and writes all the batches with
    /// one `pwrite`. The work is per batch, never per record.
    /// - Throws: `messageTooLarge` when a batch exceeds `maxMessageBytes`, `invalidBatch` when
    ///   `batches` does not describe `bytes`, `closed`, or `ioError` (nothing is then appended).
    public func append(_ bytes: inout [UInt8], batches: [ValidatedBatch], leaderEpoch: Int32) throws -> AppendResult {
        try checkTiling(bytes, batches)
        return try state.withLock { state in
            try checkUsable(state)
            for batch in batches where batch.size > state.config.maxMessageBytes {
                throw StorageError(
                    .messageTooLarge,
                    "\(topicPartition): batch of \(batch.size) bytes exceeds max.message.bytes "
                        + "\(state.config.maxMessageBytes)"
                )
            }
            let base = state.logEndOffset
            var next = base
            for batch in batches { next += Int64(batch.header.lastOffsetDelta) + 1 }
            try rollIfNeeded(&state, lastOffset: next - 1, incoming: bytes.count)
            next = base
            bytes.withUnsafeMutableBytes { raw in
                for batch in batches {
                    RecordBatchHeader.assign(
                        baseOffset: next, partitionLeaderEpoch: leaderEpoch, in: raw, at: batch.position)
                    next += Int64(batch.header.lastOffsetDelta) + 1
                }
            }
            try write(&state, bytes, batches: batches, assignedFrom: base)
            return AppendResult(
                baseOffset: base, lastOffset: next - 1, logEndOffset: next, logStartOffset: state.logStartOffset)
        }
    }

    /// Appends batches that already carry their offsets (a follower copying its leader's log).
    /// Each batch's CRC is checked, and offsets must start at or after the log end and increase.
    /// - Throws: `invalidBatch` for a corrupt or incomplete batch or offsets below the log end;
    ///   `closed`; `ioError`.
    public func appendAsFollower(_ bytes: [UInt8]) throws -> AppendResult {
        var batches: [ValidatedBatch] = []
        do {
            try bytes.withUnsafeBytes { raw in
                var position = 0
                while position < raw.count {
                    let header = try RecordBatchValidator.validateStored(raw, at: position)
                    batches.append(ValidatedBatch(position: position, header: header))
                    position += header.totalSize
                }
            }
        } catch let error as WireError {
            throw StorageError(.invalidBatch, "\(topicPartition): replicated data is not valid: \(error.message)")
        }
        guard let first = batches.first, let last = batches.last else {
            throw StorageError(.invalidBatch, "\(topicPartition): no batches to append")
        }
        return try state.withLock { state in
            try checkUsable(state)
            var expected = state.logEndOffset
            for batch in batches {
                guard batch.header.baseOffset >= expected else {
                    throw StorageError(
                        .invalidBatch,
                        "\(topicPartition): batch at offset \(batch.header.baseOffset) "
                            + "is below the expected \(expected) "
                            + "(log end \(state.logEndOffset))"
                    )
                }
                expected = batch.header.lastOffset + 1
            }
            try rollIfNeeded(&state, lastOffset: last.header.lastOffset, incoming: bytes.count)
            try write(&state, bytes, batches: batches, assignedFrom: nil)
            return AppendResult(
                baseOffset: first.header.baseOffset, lastOffset: last.header.lastOffset,
                logEndOffset: last.header.lastOffset + 1, logStartOffset: state.logStartOffset)
        }
    }

    /// Checks that `batches` cover `bytes` exactly, in order.
    private func checkTiling(_ bytes: [UInt8], _ batches: [ValidatedBatch]) throws {
        var position = 0
        for batch in batches {
            guard batch.position == position, batch.size >= RecordBatchHeader.size, batch.header.lastOffsetDelta >= 0
            else {
                throw StorageError(
                    .invalidBatch,
                    "\(topicPartition): batch descriptions do not match the record set at byte \(position)")
            }
            position += batch.size
        }
        guard !batches.isEmpty, position == bytes.count else {
            throw StorageError(
                .invalidBatch,
                "\(topicPartition): \(batches.count) batches cover \(position) of the record set's \(bytes.count) bytes"
            )
        }
    }

    /// Writes the batches to the active segment with one `pwrite` and indexes them. With
    /// `assignedFrom`, the batches were given consecutive offsets from there (their descriptions
    /// still hold the producer's); without it they carry their own (follower appends).
    private func write(_ state: inout State, _ bytes: [UInt8], batches: [ValidatedBatch], assignedFrom: Int64?) throws {
        let active = state.activeIndex
        let position = state.segments[active].size
        let file = try state.segments[active].file
        do {
            try bytes.withUnsafeBytes { try FileSystem.pwriteAll(file.fd, $0, at: position, path: file.path) }
        } catch {
            // Leave no partial batch behind: the next append would land after it.
            do {
                try FileSystem.truncate(file.fd, to: position, path: file.path)
            } catch let cutFailure as StorageError {
                state.failure = cutFailure
            }
            throw error
        }
        let interval = state.config.indexIntervalBytes
        var offset = assignedFrom ?? 0
        for batch in batches {
            let header = batch.header
            let base = assignedFrom == nil ? header.baseOffset : offset
            let last = base + Int64(header.lastOffsetDelta)
            state.segments[active].didAppend(
                baseOffset: base, lastOffset: last, maxTimestamp: header.maxTimestamp,
                at: position + Int64(batch.position), size: batch.size, indexIntervalBytes: interval)
            offset = last + 1
        }
        state.segments[active].size = position + Int64(bytes.count)
    }

    /// Starts a new segment when the active one is non-empty and would pass `segmentBytes`, is
    /// older than `segmentMs`, or could not index `lastOffset` or `incoming` more bytes.
    func rollIfNeeded(_ state: inout State, lastOffset: Int64, incoming: Int) throws {
        let active = state.segments[state.activeIndex]
        guard active.size > 0 else { return }
        let full = active.size + Int64(incoming) > Int64(state.config.segmentBytes)
        let old = FileSystem.monotonicMilliseconds() - active.createdAtMs >= state.config.segmentMs
        guard full || old || !active.canHold(lastOffset: lastOffset, bytes: incoming) else { return }
        try roll(&state)
    }

    /// Seals the active segment (its index files written) and starts a new one at the log end.
    func roll(_ state: inout State) throws {
        let active = state.activeIndex
        try state.segments[active].writeIndexes(sealing: true)
        let next = state.segments[active].nextOffset
        state.segments.append(try Segment.create(directory: directory, baseOffset: next))
        state.directoryDirty = true
        logger.debug("rolled a new segment", metadata: ["tern_offset": "\(next)"])
    }

    /// Starts a new segment now, unless the active one is empty.
    public func roll() throws {
        try state.withLock { state in
            try checkUsable(state)
            guard state.segments[state.activeIndex].size > 0 else { return }
            try roll(&state)
        }
    }
}
