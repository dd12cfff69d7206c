import Logging
import Synchronization
import TernWire

extension PartitionLog {
    /// Key hashes of batches about to be appended, computed before the log's lock is taken.
    struct KeyAdditions {
        var hashes: [UInt64]
        /// Relative to the first assigned offset for a produce, absolute for a follower append.
        var offsets: [Int64]
        var bits: Int
    }

    /// The keys of `batches`, when the log keeps a key index (read without the lock: a change of
    /// configuration meanwhile is caught by ``resolveKeys(_:_:_:assigned:state:)``).
    func precomputeKeys(_ bytes: [UInt8], _ batches: [ValidatedBatch], assigned: Bool) throws -> KeyAdditions? {
        let bits = keyIndexBits.load(ordering: .relaxed)
        guard bits >= 0 else { return nil }
        return try computeKeys(bytes, batches, assigned: assigned, bits: bits)
    }

    private func computeKeys(_ bytes: [UInt8], _ batches: [ValidatedBatch], assigned: Bool, bits: Int) throws
        -> KeyAdditions
    {
        do {
            let (hashes, offsets) = try KeyIndexRecords.additions(
                bytes, batches: batches, assigned: assigned, bits: bits)
            return KeyAdditions(hashes: hashes, offsets: offsets, bits: bits)
        } catch let error as WireError {
            throw StorageError(.invalidBatch, "\(topicPartition): records cannot be key-indexed: \(error.message)")
        }
    }

    /// The keys to index for an append, under the lock: the precomputed ones, or computed now when
    /// the configuration changed since; nil when the log keeps no key index.
    func resolveKeys(
        _ precomputed: KeyAdditions?, _ bytes: [UInt8], _ batches: [ValidatedBatch], assigned: Bool, state: State
    ) throws -> KeyAdditions? {
        guard state.config.keyIndexEnabled else { return nil }
        if let precomputed, precomputed.bits == state.config.keyIndexHashBits { return precomputed }
        return try computeKeys(bytes, batches, assigned: assigned, bits: state.config.keyIndexHashBits)
    }

    /// Adds appended records to the in-memory indexes of the segments they landed in (the active
    /// one and any this append rolled to). `base` is what the additions' offsets are relative to.
    func indexKeys(_ state: inout State, _ keys: KeyAdditions?, base: Int64) {
        guard let keys, !keys.offsets.isEmpty else {
            ensureActiveKeyIndex(&state)
            return
        }
        var rebuilt = false
        var k = 0
        var i = Self.segmentIndex(state.segments, containing: base + keys.offsets[0])
        var relatives: [UInt32] = []
        relatives.reserveCapacity(keys.offsets.count)
        // One run per segment the records landed in (usually one).
        while k < keys.offsets.count {
            while i + 1 < state.segments.count && state.segments[i + 1].baseOffset <= base + keys.offsets[k] { i += 1 }
            let segmentBase = state.segments[i].baseOffset
            let limit = i + 1 < state.segments.count ? state.segments[i + 1].baseOffset : Int64.max
            relatives.removeAll(keepingCapacity: true)
            let start = k
            while k < keys.offsets.count && base + keys.offsets[k] < limit {
                relatives.append(UInt32(truncatingIfNeeded: base + keys.offsets[k] - segmentBase))
                k += 1
            }
            if case .memory(let index) = state.segments[i].keyIndex {
                index.add(hashes: keys.hashes[start..<k], relativeOffsets: relatives[...])
            } else {
                rebuilt = true
            }
        }
        // A segment without its in-memory index (enabled since, or a failed rebuild) is read
        // whole: the records just written are in it.
        if rebuilt { ensureActiveKeyIndex(&state) }
    }

    /// Builds the active segment's in-memory index from its file when it has none.
    func ensureActiveKeyIndex(_ state: inout State) {
        guard state.config.keyIndexEnabled else { return }
        let active = state.activeIndex
        if case .memory = state.segments[active].keyIndex { return }
        do {
            state.segments[active].keyIndex = .memory(
                try Self.memoryKeyIndex(of: state.segments[active], bits: state.config.keyIndexHashBits))
        } catch {
            // Queries scan the segment meanwhile; the next append tries again.
            logger.warning("cannot build the key index of the active segment", metadata: ["error": "\(error)"])
        }
    }

    /// The in-memory key index of `segment`, read from its log file.
    static func memoryKeyIndex(of segment: Segment, bits: Int) throws -> MemoryKeyIndex {
        let index = MemoryKeyIndex()
        guard segment.size > 0 else { return index }
        var hashes: [UInt64] = []
        var relatives: [UInt32] = []
        try KeyIndexRecords.scan(file: try segment.file, size: segment.size, baseOffset: segment.baseOffset, bits: bits)
        { hash, relative in
            hashes.append(hash)
            relatives.append(relative)
        }
        index.add(hashes: hashes[...], relativeOffsets: relatives[...])
        return index
    }

    /// After a truncation cut the active segment: drops its index entries past the cut (its
    /// index file, if it had one as a sealed segment, no longer describes it).
    func truncateKeyIndex(_ state: inout State) throws {
        let active = state.activeIndex
        try FileSystem.unlink(state.segments[active].keyIndexPath)
        guard state.config.keyIndexEnabled else { return }
        if case .memory(let index) = state.segments[active].keyIndex {
            index.truncate(fromRelativeOffset: state.segments[active].relative(state.segments[active].nextOffset))
        } else {
            state.segments[active].keyIndex = nil
            ensureActiveKeyIndex(&state)
        }
    }

    /// Writes the index files of sealed segments that have none yet (their in-memory index
    /// sorted, or the segment read when it has none) and switches them to the files, off the
    /// append path: called by the background flusher after a roll, by the cleaner after a swap,
    /// when the index is enabled, and by `close`. Builds the active segment's in-memory index
    /// too when it lacks one. Failures are logged; queries scan what has no index meanwhile.
    /// - Parameter waiting: false to do nothing when the maintenance lock is busy (a cleaner swap
    ///   holds it across fsyncs): the background flusher must not stall other logs' flushes.
    public func sealKeyIndexes(waiting: Bool = true) {
        if waiting {
            maintenanceLock.withLock { _ in sealKeyIndexesHoldingMaintenanceLock() }
        } else {
            _ = maintenanceLock.withLockIfAvailable { _ in sealKeyIndexesHoldingMaintenanceLock() }
        }
    }

    private func sealKeyIndexesHoldingMaintenanceLock() {
        struct Work {
            var baseOffset: Int64
            var handle: SegmentHandle
            var size: Int64
            var span: UInt32
            var memory: MemoryKeyIndex?
            var damaged = false
        }
        let (work, bits) = state.withLock { state -> ([Work], Int) in
            guard state.config.keyIndexEnabled, !state.deleted, state.failure == nil else { return ([], 0) }
            let damaged = damagedKeyIndexes.withLock { set in
                defer { set.removeAll() }
                return set
            }
            var work: [Work] = []
            for segment in state.segments.dropLast() {
                var memory: MemoryKeyIndex?
                switch segment.keyIndex {
                case .file: guard damaged.contains(segment.baseOffset) else { continue }
                case .memory(let index): memory = index
                case nil: memory = nil
                }
                work.append(
                    Work(
                        baseOffset: segment.baseOffset, handle: segment.handle, size: segment.size,
                        span: UInt32(truncatingIfNeeded: segment.nextOffset - segment.baseOffset), memory: memory,
                        damaged: damaged.contains(segment.baseOffset)))
            }
            return (work, state.config.keyIndexHashBits)
        }
        for item in work {
            do {
                let file: KeyIndexFile
                if item.memory == nil, !item.damaged,
                    case .success(let existing) = KeyIndexFile.open(
                        directory: directory, baseOffset: item.baseOffset, logSize: item.size, span: item.span,
                        hashBits: bits)
                {
                    file = existing
                } else {
                    // A sealed segment's in-memory index no longer changes: appends go to the
                    // active one, and truncation (which could make it active again) waits
                    // for the maintenance lock held here.
                    var entries: [KeyIndexEntry]
                    if let memory = item.memory {
                        entries = memory.sortedEntries()
                    } else {
                        entries = []
                        try KeyIndexRecords.scan(
                            file: try item.handle.open(), size: item.size, baseOffset: item.baseOffset, bits: bits
                        ) { hash, relative in entries.append(KeyIndexEntry(hash: hash, relativeOffset: relative)) }
                        entries.sort()
                    }
                    file = try KeyIndexFile.write(
                        entries, directory: directory, baseOffset: item.baseOffset, logSize: item.size,
                        span: item.span, hashBits: bits)
                }
                state.withLock { state in
                    let i = Self.segmentIndex(state.segments, containing: item.baseOffset)
                    guard state.config.keyIndexEnabled, state.config.keyIndexHashBits == bits,
                        i < state.activeIndex, state.segments[i].handle === item.handle
                    else { return }
                    state.segments[i].keyIndex = .file(file)
                }
            } catch {
                logger.warning(
                    "cannot write the key index of the segment at offset \(item.baseOffset)",
                    metadata: ["error": "\(error)"])
            }
        }
        state.withLock { state in
            guard !state.deleted, state.failure == nil else { return }
            ensureActiveKeyIndex(&state)
        }
    }

    /// Memory the key index holds: the in-memory indexes in full, and the block tables of the
    /// sealed ones' files (their entries stay on disk).
    public var keyIndexMemoryBytes: Int {
        state.withLock { state in
            state.segments.reduce(0) { total, segment in
                switch segment.keyIndex {
                case .memory(let index): total + index.memoryBytes
                case .file(let file): total + file.memoryBytes
                case nil: total
                }
            }
        }
    }

    /// Applies a configuration change to the key index: dropped when disabled; when enabled (or
    /// its hash changed), every segment's is rebuilt or reloaded by ``sealKeyIndexes()``.
    /// Returns true when that is needed.
    func applyKeyIndexConfig(_ state: inout State, old: LogConfig) -> Bool {
        let config = state.config
        keyIndexBits.store(config.keyIndexEnabled ? config.keyIndexHashBits : -1, ordering: .relaxed)
        if !config.keyIndexEnabled {
            for i in state.segments.indices { state.segments[i].keyIndex = nil }
            return false
        }
        guard !old.keyIndexEnabled || old.keyIndexHashBits != config.keyIndexHashBits else { return false }
        for i in state.segments.indices { state.segments[i].keyIndex = nil }
        return true
    }
}
