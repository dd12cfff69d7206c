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
        let precomputed = try precomputeKeys(bytes, batches, assigned: true)
        return try state.withLock { state in
            try append(&state, &bytes, batches: batches, leaderEpoch: leaderEpoch, keys: precomputed)
        }
    }

    /// ``append(_:batches:leaderEpoch:)`` with the lock held (the conditional append checks its
    /// condition in the same critical section); `keys` is what `precomputeKeys` found before the lock.
    func append(
        _ state: inout State, _ bytes: inout [UInt8], batches: [ValidatedBatch], leaderEpoch: Int32,
        keys precomputed: KeyAdditions?
    ) throws -> AppendResult {
        try checkUsable(state)
        for batch in batches where batch.size > state.config.maxMessageBytes {
            throw StorageError(
                .messageTooLarge,
                "\(topicPartition): batch of \(batch.size) bytes exceeds max.message.bytes "
                    + "\(state.config.maxMessageBytes)"
            )
        }
        if let duplicate = try checkProducers(state, batches) { return duplicate }
        let keys = try resolveKeys(precomputed, bytes, batches, assigned: true, state: state)
        let base = state.logEndOffset
        try noteEpoch(&state, leaderEpoch, startOffset: base)
        var next = base
        bytes.withUnsafeMutableBytes { raw in
            for batch in batches {
                RecordBatchHeader.assign(
                    baseOffset: next, partitionLeaderEpoch: leaderEpoch, in: raw, at: batch.position)
                next += Int64(batch.header.lastOffsetDelta) + 1
            }
        }
        try writeRolling(&state, bytes, batches: batches, assignedFrom: base)
        indexKeys(&state, keys, base: base)
        recordProducers(&state, batches, assignedFrom: base)
        return AppendResult(
            baseOffset: base, lastOffset: next - 1, logEndOffset: next, logStartOffset: state.logStartOffset)
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
        let precomputed = try precomputeKeys(bytes, batches, assigned: false)
        return try state.withLock { state in
            try checkUsable(state)
            let keys = try resolveKeys(precomputed, bytes, batches, assigned: false, state: state)
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
            for batch in batches {
                try noteEpoch(&state, batch.header.partitionLeaderEpoch, startOffset: batch.header.baseOffset)
            }
            try writeRolling(&state, bytes, batches: batches, assignedFrom: nil)
            indexKeys(&state, keys, base: 0)
            recordProducers(&state, batches, assignedFrom: nil)
            return AppendResult(
                baseOffset: first.header.baseOffset, lastOffset: last.header.lastOffset,
                logEndOffset: last.header.lastOffset + 1, logStartOffset: state.logStartOffset)
        }
    }

    /// Checks that `batches` cover `bytes` exactly, in order.
    func checkTiling(_ bytes: [UInt8], _ batches: [ValidatedBatch]) throws {
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

    /// Writes the batches, rolling to a new segment first whenever the next batch would take a
    /// non-empty active segment past `segmentBytes` (or past what its indexes can address), as
    /// Kafka rolls before an append that would overflow: only a single batch larger than
    /// `segmentBytes` makes a segment exceed it. Consecutive batches that land in the same segment
    /// go out with one `pwrite`. With `assignedFrom`, the batches were given consecutive offsets
    /// from there (their descriptions still hold the producer's); without it they carry their own
    /// (follower appends).
    ///
    /// All or nothing: when a write fails after earlier batches of the same call were written, the
    /// segments this call created are deleted and the active one is cut back to where it was.
    private func writeRolling(
        _ state: inout State, _ bytes: [UInt8], batches: [ValidatedBatch], assignedFrom: Int64?
    ) throws {
        let savedCount = state.segments.count
        let savedActive = state.segments[state.activeIndex]
        let old = FileSystem.monotonicMilliseconds() - savedActive.createdAtMs >= state.config.segmentMs
        var group = (start: 0, bytes: 0, base: assignedFrom)
        var next = assignedFrom
        var wrote = false
        do {
            for (i, batch) in batches.enumerated() {
                let base = next ?? batch.header.baseOffset
                let last = base + Int64(batch.header.lastOffsetDelta)
                let active = state.segments[state.activeIndex]
                let used = active.size + Int64(group.bytes)
                let full = used + Int64(batch.size) > Int64(state.config.segmentBytes)
                let unaddressable = !active.canHold(lastOffset: last, bytes: group.bytes + batch.size)
                if used > 0 && (full || unaddressable || (i == 0 && old)) {
                    try write(&state, bytes, batches: batches[group.start..<i], assignedFrom: group.base)
                    wrote = wrote || group.start < i
                    try roll(&state)
                    group = (i, 0, next)
                }
                group.bytes += batch.size
                if next != nil { next = last + 1 }
            }
            try write(&state, bytes, batches: batches[group.start...], assignedFrom: group.base)
        } catch {
            if state.segments.count > savedCount || wrote {
                undoAppend(&state, segmentCount: savedCount, active: savedActive)
            }
            throw error
        }
    }

    /// Puts the log back as it was before a failed ``writeRolling``: removes the segments it
    /// rolled to and cuts the previously active one back to its old size.
    private func undoAppend(_ state: inout State, segmentCount: Int, active: Segment) {
        do {
            while state.segments.count > segmentCount {
                try state.segments.removeLast().deleteFiles()
                state.directoryDirty = true
            }
            try FileSystem.truncate(active.file.fd, to: active.size, path: active.logPath)
            state.segments[state.activeIndex] = active
            try active.trimIndexFiles()
        } catch let failure as StorageError {
            state.failure = failure
        } catch {
            state.failure = StorageError(.ioError, "\(topicPartition): \(error)")
        }
    }

    /// Writes contiguous batches to the active segment with one `pwrite` and indexes them; nothing
    /// for an empty slice.
    private func write(
        _ state: inout State, _ bytes: [UInt8], batches: ArraySlice<ValidatedBatch>, assignedFrom: Int64?
    ) throws {
        guard let first = batches.first, let lastBatch = batches.last else { return }
        let active = state.activeIndex
        let position = state.segments[active].size
        let file = try state.segments[active].file
        let range = first.position..<(lastBatch.position + lastBatch.size)
        do {
            try bytes.withUnsafeBytes { raw in
                try FileSystem.pwriteAll(
                    file.fd, UnsafeRawBufferPointer(rebasing: raw[range]), at: position, path: file.path)
            }
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
                at: position + Int64(batch.position - first.position), size: batch.size, indexIntervalBytes: interval)
            offset = last + 1
        }
        state.segments[active].size = position + Int64(range.count)
    }

    /// Seals the active segment (its index files written) and starts a new one at the log end;
    /// asks the background flusher to flush the sealed one (never synced on the append path) and
    /// to write a producer-state snapshot at the new segment's base offset (Kafka snapshots at
    /// each roll too: recovery then replays at most the active segment).
    func roll(_ state: inout State) throws {
        let active = state.activeIndex
        try state.segments[active].writeIndexes(sealing: true)
        let next = state.segments[active].nextOffset
        state.segments.append(try Segment.create(directory: directory, baseOffset: next))
        if state.config.keyIndexEnabled { state.segments[state.activeIndex].keyIndex = .memory(MemoryKeyIndex()) }
        state.directoryDirty = true
        // A copy-on-write copy: the table's storage is copied once, by the next append.
        if !state.producers.producers.isEmpty { state.pendingProducerSnapshot = (next, state.producers) }
        flushRequests?.request(self)
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
