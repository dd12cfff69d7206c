import SystemPackage

/// A stretch of a segment file that recovery could not read (a corrupt batch, or several bad
/// bytes in a row), found with good batches after it. Its bytes are kept beside the segment in
/// `<base offset, 20 digits>.log.<position>.corrupt` and removed from the log; its offsets become a
/// gap.
struct CorruptRegion: Sendable {
    /// Where it started in the segment file as it was found.
    var position: Int64
    var length: Int64
    /// Why the batch at `position` was refused.
    var reason: String
    /// The first offset lost: the one after the last good batch before the region.
    var firstLostOffset: Int64
    /// The base offset of the first batch kept after the region; nil when the region ran to the
    /// end of a segment that is not the last one (later segments are kept).
    var nextKeptOffset: Int64?
    /// The `.corrupt` file holding its bytes, once written.
    var savedAs = ""
}

extension Segment {
    /// Suffix of the files holding the bytes of corrupt regions.
    static let corruptSuffix = ".corrupt"

    /// Copies each region's bytes into its own `.corrupt` file, durably, then removes the regions
    /// from the log file: cut off when only the last one is left, otherwise by writing the kept
    /// bytes to `<name>.log.salvaged.tmp` and renaming it over the log. A crash at any point leaves
    /// the old log whole (the next start salvages it again, beside a second copy of the `.corrupt`
    /// file) or the new one. Bytes from `end` on (a torn tail after the regions) are dropped
    /// without being kept. `size` becomes the kept bytes; the caller rebuilds the indexes.
    mutating func setAside(_ regions: inout [CorruptRegion], end: Int64) throws {
        guard !regions.isEmpty else { return }
        // Held throughout: the pin that keeps the file cache from closing it.
        let file = try self.file
        for i in regions.indices {
            let path = Self.freeCorruptPath(directory: directory, baseOffset: baseOffset, position: regions[i].position)
            let temporary = path + ".tmp"
            let out = try FileSystem.open(temporary, create: true)
            do {
                try FileSystem.truncate(out, to: 0, path: temporary)
                try Self.copy(
                    from: file.fd, path: logPath,
                    range: regions[i].position..<(regions[i].position + regions[i].length),
                    to: out, at: 0, outPath: temporary)
                try FileSystem.fsync(out, path: temporary)
                try out.close()
            } catch {
                try? out.close()
                try? FileSystem.unlink(temporary)
                throw error
            }
            try FileSystem.rename(temporary, path)
            regions[i].savedAs = path
        }
        try FileSystem.fsyncDirectory(directory)

        var kept: [Range<Int64>] = []
        var from: Int64 = 0
        for region in regions {
            if region.position > from { kept.append(from..<region.position) }
            from = region.position + region.length
        }
        if from < end { kept.append(from..<end) }
        let keptBytes: Int64 = kept.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) }
        if kept.count <= 1 && (kept.first?.lowerBound ?? 0) == 0 {
            // Only a tail goes: cut it off in place.
            try FileSystem.truncate(file.fd, to: keptBytes, path: logPath)
            try FileSystem.fdatasync(file.fd, path: logPath)
        } else {
            let temporary = logPath + ".salvaged.tmp"
            let out = try FileSystem.open(temporary, create: true)
            do {
                try FileSystem.truncate(out, to: 0, path: temporary)
                var at: Int64 = 0
                for range in kept {
                    try Self.copy(from: file.fd, path: logPath, range: range, to: out, at: at, outPath: temporary)
                    at += range.upperBound - range.lowerBound
                }
                try FileSystem.fdatasync(out, path: temporary)
                try out.close()
            } catch {
                try? out.close()
                try? FileSystem.unlink(temporary)
                throw error
            }
            // The old handle must never open the path again: it names the new file now.
            handle.retire()
            try FileSystem.rename(temporary, logPath)
            try FileSystem.fsyncDirectory(directory)
            var replacement = Segment(
                baseOffset: baseOffset, file: try SegmentFile(path: logPath, create: false), directory: directory,
                size: keptBytes)
            replacement.offsetIndex = offsetIndex
            replacement.timeIndex = timeIndex
            replacement.maxTimestamp = maxTimestamp
            replacement.lastBatchOffset = lastBatchOffset
            replacement.bytesSinceIndexEntry = bytesSinceIndexEntry
            replacement.nextOffset = nextOffset
            self = replacement
        }
        size = keptBytes
        flushedSize = keptBytes
    }

    /// `<base>.log.<position>.corrupt`, or with `-1`, `-2`, … before `.corrupt` when an earlier
    /// salvage already used the name.
    private static func freeCorruptPath(directory: String, baseOffset: Int64, position: Int64) -> String {
        let stem = directory + "/" + fileName(baseOffset, ".log") + ".\(position)"
        var path = stem + corruptSuffix
        var attempt = 0
        while FileSystem.exists(path) {
            attempt += 1
            path = stem + "-\(attempt)" + corruptSuffix
        }
        return path
    }

    /// Copies `range` of one file to `at` in another, 1 MiB at a time.
    private static func copy(
        from source: FileDescriptor, path: String, range: Range<Int64>, to out: FileDescriptor, at: Int64,
        outPath: String
    ) throws {
        let length: Int64 = range.upperBound - range.lowerBound
        let chunk: Int64 = 1 << 20
        var buffer = [UInt8](repeating: 0, count: Int(max(min(chunk, length), 1)))
        var done: Int64 = 0
        while done < length {
            let want = Int(min(chunk, length - done))
            let got = try buffer.withUnsafeMutableBytes { raw in
                try FileSystem.pread(
                    source, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: range.lowerBound + done,
                    path: path)
            }
            guard got == want else {
                throw StorageError(.ioError, "\(path) ended at \(range.lowerBound + done + Int64(got)) while copying")
            }
            try buffer.withUnsafeBytes { raw in
                try FileSystem.pwriteAll(
                    out, UnsafeRawBufferPointer(rebasing: raw[0..<want]), at: at + done, path: outPath)
            }
            done += Int64(want)
        }
    }
}
