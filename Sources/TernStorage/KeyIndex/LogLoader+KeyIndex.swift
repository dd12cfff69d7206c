import Logging

extension LogLoader {
    /// Opens the key index of each segment when the log keeps one: a sealed segment's
    /// `N.keyindex` when it checks out against the segment (rebuilt from the segment and written
    /// again when it is missing, damaged, or the segment came out of an interrupted swap), and
    /// the active segment's in memory, read from its log (which recovery has just made whole).
    func loadKeyIndexes(_ segments: inout [Segment], swapped: Set<Int64>, logger: Logger, stats: inout RecoveryStats)
        throws
    {
        guard config.keyIndexEnabled else { return }
        let bits = config.keyIndexHashBits
        for i in segments.indices {
            let segment = segments[i]
            if i == segments.count - 1 {
                segments[i].keyIndex = .memory(try PartitionLog.memoryKeyIndex(of: segment, bits: bits))
                continue
            }
            let span = UInt32(truncatingIfNeeded: segment.nextOffset - segment.baseOffset)
            if !swapped.contains(segment.baseOffset),
                case .success(let file) = KeyIndexFile.open(
                    directory: directory, baseOffset: segment.baseOffset, logSize: segment.size, span: span,
                    hashBits: bits)
            {
                segments[i].keyIndex = .file(file)
                continue
            }
            var entries: [KeyIndexEntry] = []
            try KeyIndexRecords.scan(
                file: try segment.file, size: segment.size, baseOffset: segment.baseOffset, bits: bits
            ) { hash, relative in entries.append(KeyIndexEntry(hash: hash, relativeOffset: relative)) }
            entries.sort()
            let existed = FileSystem.exists(segment.keyIndexPath)
            segments[i].keyIndex = .file(
                try KeyIndexFile.write(
                    entries, directory: directory, baseOffset: segment.baseOffset, logSize: segment.size, span: span,
                    hashBits: bits))
            stats.keyIndexesRebuilt += 1
            if existed {
                logger.warning("rebuilt the key index of \(segment.logPath): its file did not check out")
            }
        }
    }
}
