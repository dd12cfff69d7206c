import TernWire

extension Segment {
    /// How much of an existing segment to believe.
    enum LoadMode {
        /// The segment was cleanly closed or lies below the recovery point: load its index files
        /// and check only the batches after the last index entry. Falls back to `.scan` when the
        /// index files are missing or implausible.
        case trustIndexes
        /// After an unclean stop: read and CRC-check every batch, rebuild both indexes.
        case scan
        /// After an unclean stop, for the segment holding the recovery point: offsets below it are
        /// on disk, and so are the index entries the background flusher wrote and synced for them
        /// (entries missing from the file only move the start of the scan back), so keep the
        /// leading entries below it and CRC-check only the batches from the last of them on.
        /// Falls back to `.scan` when the index files are missing or do not fit the log.
        case scanFrom(recoveryPoint: Int64)
    }

    /// What opening a segment found.
    struct LoadOutcome {
        var segment: Segment
        /// Where the file was cut, and why, when a batch was incomplete or corrupt.
        var truncation: BatchScanner.Stop?
        /// Corrupt stretches set aside with good batches after them (``Segment/setAside(_:)``).
        var salvaged: [CorruptRegion] = []
        /// Why the index files were not used, when they were not.
        var indexProblem: String?
        /// True when every batch was read and checked.
        var scannedFully: Bool
        var batchesChecked: Int
        var bytesRead: Int
    }

    /// Opens an existing segment. Whatever the mode, what remains is servable: a batch that is
    /// incomplete, fails its CRC or goes backwards in offsets is set aside when good batches
    /// follow it, and the file is cut there when none does (a torn tail). `nextBaseOffset` is the
    /// base offset of the following segment (`.max` for the last one): batches must end before it.
    static func load(
        directory: String, baseOffset: Int64, mode: LoadMode, indexIntervalBytes: Int, nextBaseOffset: Int64 = .max
    ) throws
        -> LoadOutcome
    {
        let path = directory + "/" + fileName(baseOffset, ".log")
        let file = try SegmentFile(path: path, create: false)
        let fileSize = try FileSystem.size(file.fd, path: path)
        let fresh = Segment(baseOffset: baseOffset, file: file, directory: directory, size: fileSize)
        var indexProblem: String?
        if case .trustIndexes = mode {
            switch try fresh.loadingIndexes(indexIntervalBytes: indexIntervalBytes) {
            case .success(let outcome): return outcome
            case .failure(let problem): indexProblem = problem.description
            }
        }
        var start = (segment: fresh, position: Int64(0))
        if case .scanFrom(let recoveryPoint) = mode,
            let anchored = try fresh.anchored(below: recoveryPoint, indexIntervalBytes: indexIntervalBytes)
        {
            start = anchored
        }
        var outcome = try start.segment.scanning(
            from: start.position, indexIntervalBytes: indexIntervalBytes, nextBaseOffset: nextBaseOffset)
        outcome.indexProblem = indexProblem
        return outcome
    }

    /// Loads the index files and checks the tail after their last entry; a failure means "scan".
    private func loadingIndexes(indexIntervalBytes: Int) throws -> Result<LoadOutcome, IndexProblem> {
        // An empty segment needs no index, whatever its index files hold.
        if size == 0 {
            try trimIndexFiles()
            return .success(LoadOutcome(segment: self, scannedFully: false, batchesChecked: 0, bytesRead: 0))
        }
        guard let indexBytes = try? AtomicFile.readIfExists(indexPath) else {
            return .failure(IndexProblem("\(indexPath) is missing or unreadable"))
        }
        guard let timeBytes = try? AtomicFile.readIfExists(timeIndexPath) else {
            return .failure(IndexProblem("\(timeIndexPath) is missing or unreadable"))
        }
        var segment = self
        switch OffsetIndex.parse(indexBytes, logSize: size) {
        case .success(let index): segment.offsetIndex = index
        case .failure(let problem): return .failure(IndexProblem("\(indexPath): \(problem)"))
        }
        switch TimeIndex.parse(timeBytes) {
        case .success(let index): segment.timeIndex = index
        case .failure(let problem): return .failure(IndexProblem("\(timeIndexPath): \(problem)"))
        }
        guard let anchor = segment.offsetIndex.last else {
            // No entry: only right for an empty segment.
            guard size == 0 else { return .failure(IndexProblem("\(indexPath) is empty but the log is not")) }
            return .success(LoadOutcome(segment: segment, scannedFully: false, batchesChecked: 0, bytesRead: 0))
        }
        // The batches from the last entry on: the entry must point at the batch it names, and
        // they give the log end and the largest timestamp.
        segment.maxTimestamp = segment.timeIndex.last?.timestamp ?? -1
        var scanner = BatchScanner(file: try file, limit: size, from: anchor.position, verifyCRC: true)
        var checked = 0
        while let entry = try scanner.next() {
            let header = entry.header
            if checked == 0 {
                guard header.baseOffset == baseOffset + Int64(anchor.relativeOffset) else {
                    return .failure(
                        IndexProblem(
                            "\(indexPath): last entry names offset \(baseOffset + Int64(anchor.relativeOffset)) "
                                + "but the batch there starts at \(header.baseOffset)"
                        ))
                }
                segment.maxTimestamp = max(segment.maxTimestamp, header.maxTimestamp)
                segment.bytesSinceIndexEntry = header.totalSize
                segment.lastBatchOffset = header.baseOffset
                segment.nextOffset = header.lastOffset + 1
            } else {
                guard header.baseOffset >= segment.nextOffset, header.lastOffset - baseOffset <= Int64(UInt32.max),
                    entry.position <= Int64(UInt32.max)
                else {
                    return .failure(IndexProblem("offsets go backwards after the last index entry"))
                }
                segment.didAppend(
                    baseOffset: header.baseOffset, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp,
                    at: entry.position, size: header.totalSize, indexIntervalBytes: indexIntervalBytes)
            }
            checked += 1
        }
        if let stop = scanner.stop {
            return .failure(IndexProblem("the batch at position \(stop.position) is bad: \(stop.reason)"))
        }
        if let last = segment.timeIndex.last, last.relativeOffset > segment.relative(segment.nextOffset - 1) {
            return .failure(IndexProblem("\(timeIndexPath) names offsets past the end of the log"))
        }
        return .success(
            LoadOutcome(segment: segment, scannedFully: false, batchesChecked: checked, bytesRead: scanner.bytesRead))
    }

    /// Reads every batch with its CRC and rebuilds both indexes. A bad batch with good batches
    /// after it is set aside (``setAside(_:)``) and the scan resumes at the next good one; a bad
    /// stretch with nothing valid after it is a torn tail, cut off, unless a later segment follows
    /// (`nextBaseOffset`), when it too is set aside so that the later segments stay.
    ///
    /// The scan starts at `from`: 0, or the last trusted index entry
    /// (``anchored(below:indexIntervalBytes:)``), with `self` already holding the entries before it.
    private func scanning(from: Int64, indexIntervalBytes: Int, nextBaseOffset: Int64) throws -> LoadOutcome {
        var segment = self
        // Held for the whole scan: the pin that keeps the file cache from closing it.
        let file = try self.file
        var scanner = BatchScanner(file: file, limit: size, from: from, verifyCRC: true)
        var truncation: BatchScanner.Stop?
        var regions: [CorruptRegion] = []
        // Bytes of regions before the scan position: where kept batches will sit once they go.
        var removed: Int64 = 0
        var checked = 0
        var bytesRead = 0
        let isLast = nextBaseOffset == .max
        var bounds = BatchScanner.ResyncBounds(
            minBaseOffset: baseOffset,
            maxLastOffset: min(isLast ? .max : nextBaseOffset - 1, baseOffset + Int64(UInt32.max)),
            checkBudget: Int(clamping: max(4 * size, 64 << 20)))
        while true {
            var bad: BatchScanner.Stop?
            while let entry = try scanner.next() {
                let header = entry.header
                let position = entry.position - removed
                if header.baseOffset < segment.nextOffset {
                    bad = .init(
                        position: entry.position,
                        reason:
                            "batch offsets \(header.baseOffset)...\(header.lastOffset) go back before \(segment.nextOffset)"
                    )
                    break
                }
                if header.lastOffset > bounds.maxLastOffset || position > Int64(UInt32.max) {
                    bad = .init(
                        position: entry.position,
                        reason:
                            "batch at offset \(header.lastOffset) does not fit a segment based at \(baseOffset)"
                            + (isLast ? "" : " and followed by one at \(nextBaseOffset)")
                    )
                    break
                }
                if header.baseOffset > segment.nextOffset,
                    try Self.batchFollows(
                        file: file, limit: size, at: entry.position + Int64(header.totalSize),
                        baseOffset: segment.nextOffset + (header.lastOffset - header.baseOffset + 1))
                {
                    bad = .init(
                        position: entry.position,
                        reason:
                            "batch offsets \(header.baseOffset)...\(header.lastOffset) leave a gap after \(segment.nextOffset - 1) "
                            + "that the next batch fills exactly: its baseOffset (outside the CRC) is corrupt"
                    )
                    break
                }
                segment.didAppend(
                    baseOffset: header.baseOffset, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp,
                    at: position, size: header.totalSize, indexIntervalBytes: indexIntervalBytes)
                checked += 1
            }
            bytesRead += scanner.bytesRead
            guard let stop = bad ?? scanner.stop else { break }
            bounds.minBaseOffset = segment.nextOffset
            if let resume = try BatchScanner.resynchronize(
                file: file, limit: size, after: stop.position, bounds: &bounds, bytesRead: &bytesRead)
            {
                regions.append(
                    CorruptRegion(
                        position: stop.position, length: resume.position - stop.position, reason: stop.reason,
                        firstLostOffset: segment.nextOffset, nextKeptOffset: resume.header.baseOffset))
                removed += resume.position - stop.position
                scanner = BatchScanner(file: file, limit: size, from: resume.position, verifyCRC: true)
                continue
            }
            if isLast {
                truncation = .init(position: stop.position - removed, reason: stop.reason)
            } else {
                regions.append(
                    CorruptRegion(
                        position: stop.position, length: size - stop.position, reason: stop.reason,
                        firstLostOffset: segment.nextOffset, nextKeptOffset: nil))
            }
            break
        }
        if !regions.isEmpty {
            // A torn tail after the salvaged regions is dropped by the same rewrite.
            try segment.setAside(&regions, end: truncation.map { $0.position + removed } ?? size)
        } else if let truncation {
            // Cut the torn or corrupt tail so that appends continue from the last good batch.
            try FileSystem.truncate(file.fd, to: truncation.position, path: logPath)
            try FileSystem.fdatasync(file.fd, path: logPath)
            segment.size = truncation.position
            segment.flushedSize = truncation.position
        }
        try segment.rewriteIndexes()
        return LoadOutcome(
            segment: segment, truncation: truncation, salvaged: regions, scannedFully: true, batchesChecked: checked,
            bytesRead: bytesRead)
    }

    /// Whether a valid batch starting at `baseOffset` lies at `position`. A batch that opens a
    /// gap in the offsets is checked this way: `baseOffset` lies outside the CRC, so one flipped
    /// bit moves a whole batch forward, and the good batches after it would then seem to go
    /// backwards (and be lost). When the next batch starts exactly where this one would have
    /// ended without the gap, this one's baseOffset is the corrupt field. Legitimate gaps
    /// (compaction) never look like that: the next batch would overlap this one.
    private static func batchFollows(file: SegmentFile, limit: Int64, at position: Int64, baseOffset: Int64) throws
        -> Bool
    {
        guard position < limit else { return false }
        var scanner = BatchScanner(file: file, limit: limit, from: position, verifyCRC: true)
        return try scanner.next()?.header.baseOffset == baseOffset
    }

    /// The segment with its index entries below `recoveryPoint` loaded from the files, minus the
    /// last of them, which becomes the place to scan from (the scan adds it again); nil when there
    /// is nothing to trust (no entry below the point, unreadable files, an entry that does not name
    /// the batch it points at). Only the leading entries below the point are read: a crash may
    /// have left anything after them.
    private func anchored(below recoveryPoint: Int64, indexIntervalBytes: Int) throws
        -> (segment: Segment, position: Int64)?
    {
        guard size > 0, recoveryPoint > baseOffset, recoveryPoint - baseOffset <= Int64(UInt32.max),
            let indexBytes = try? AtomicFile.readIfExists(indexPath),
            let timeBytes = try? AtomicFile.readIfExists(timeIndexPath)
        else { return nil }
        let limit = UInt32(recoveryPoint - baseOffset)
        /// The leading entries whose relative offset (big-endian u32 at `offsetAt`) is below `limit`.
        func prefix(_ bytes: [UInt8], entrySize: Int, offsetAt: Int) -> [UInt8] {
            var end = 0
            while end + entrySize <= bytes.count {
                var relative: UInt32 = 0
                for i in (end + offsetAt)..<(end + offsetAt + 4) { relative = relative << 8 | UInt32(bytes[i]) }
                guard relative < limit else { break }
                end += entrySize
            }
            return Array(bytes[0..<end])
        }
        guard
            case .success(var index) = OffsetIndex.parse(
                prefix(indexBytes, entrySize: OffsetIndex.entrySize, offsetAt: 0), logSize: size),
            case .success(var time) = TimeIndex.parse(prefix(timeBytes, entrySize: TimeIndex.entrySize, offsetAt: 8)),
            let anchor = index.last
        else { return nil }
        // The entry must point at the batch it names.
        let header = try FileSystem.pread(
            try file.fd, count: RecordBatchHeader.size, at: anchor.position, path: logPath)
        guard let batch = RecordBatchHeader(header, at: 0),
            batch.baseOffset == baseOffset + Int64(anchor.relativeOffset)
        else { return nil }
        index.truncate(toPosition: anchor.position)
        time.truncate(toRelativeOffset: anchor.relativeOffset)
        var segment = self
        segment.offsetIndex = index
        segment.timeIndex = time
        segment.maxTimestamp = time.last?.timestamp ?? -1
        segment.nextOffset = baseOffset + Int64(anchor.relativeOffset)
        // So that the scan indexes the anchor's batch again first.
        segment.bytesSinceIndexEntry = indexIntervalBytes
        return (segment, anchor.position)
    }
}
