import TernWire

extension BatchScanner {
    /// Limits on the batch a resynchronisation may resume at: what the segment can still hold.
    struct ResyncBounds {
        /// The resumed batch's base offset must be at least this (past the last good batch).
        var minBaseOffset: Int64
        /// And its last offset at most this (before the next segment, within the index format).
        var maxLastOffset: Int64
        /// Bytes of candidate batches that may still be read and CRC-checked; a hostile payload
        /// full of plausible fake headers then costs a bounded amount of work.
        var checkBudget: Int
    }

    /// Where good batches resume after the bad one at `badPosition`: the first position after it
    /// holding a batch whose header is sane (magic 2, a length that fits the file, offsets within
    /// `bounds`, a plausible record count) and whose CRC checks out; nil when none does before
    /// `limit` (a torn tail) or the check budget runs out.
    ///
    /// When the bad batch's own header is sane (typically a flipped bit in its records), the
    /// position its length names is tried first: a real batch there is the right place to resume,
    /// and a fake header inside the bad batch's records is never considered. Only a damaged length
    /// makes the search walk byte by byte, reading 1 MiB windows.
    /// - Returns: the position and header of the batch to resume at; `bytesRead` grows by what was
    ///   read either way.
    static func resynchronize(
        file: SegmentFile, limit: Int64, after badPosition: Int64, bounds: inout ResyncBounds, bytesRead: inout Int
    ) throws -> (position: Int64, header: RecordBatchHeader)? {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        /// True when a whole batch at `position` with `header` is present and valid. The CRC is
        /// computed 1 MiB at a time first, so a fake header claiming a huge length costs reads, not
        /// memory; only a batch whose CRC matches is read whole and validated.
        func verifies(_ header: RecordBatchHeader, at position: Int64) throws -> Bool {
            guard plausible(header, at: position, limit: limit, bounds: bounds) else { return false }
            let total = header.totalSize
            guard bounds.checkBudget >= total else {
                bounds.checkBudget = 0
                return false
            }
            bounds.checkBudget -= total
            var crc: UInt32 = 0
            var at = position + Int64(RecordBatchHeader.Offset.attributes)
            let end = position + Int64(total)
            while at < end {
                let want = Int(min(Int64(chunk.count), end - at))
                let got = try chunk.withUnsafeMutableBytes { raw in
                    try FileSystem.pread(
                        file.fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: at, path: file.path)
                }
                bytesRead += got
                guard got == want else { return false }
                crc = chunk.withUnsafeBytes { CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: $0[0..<want])) }
                at += Int64(want)
            }
            guard crc == header.crc else { return false }
            let batch = try FileSystem.pread(file.fd, count: total, at: position, path: file.path)
            bytesRead += batch.count
            guard batch.count == total else { return false }
            return batch.withUnsafeBytes { (try? RecordBatchValidator.validateStored($0, at: 0)) != nil }
        }

        // The bad batch's own length, when its header is believable.
        let headerSize = RecordBatchHeader.size
        if limit - badPosition >= Int64(headerSize) {
            let bytes = try FileSystem.pread(file.fd, count: headerSize, at: badPosition, path: file.path)
            bytesRead += bytes.count
            if let bad = RecordBatchHeader(bytes, at: 0), bad.magic == RecordBatchHeader.currentMagic,
                bad.batchLength >= Int32(headerSize - RecordBatchHeader.logOverhead),
                Int64(bad.totalSize) < limit - badPosition
            {
                let next = badPosition + Int64(bad.totalSize)
                let nextBytes = try FileSystem.pread(file.fd, count: headerSize, at: next, path: file.path)
                bytesRead += nextBytes.count
                if let header = RecordBatchHeader(nextBytes, at: 0), try verifies(header, at: next) {
                    return (next, header)
                }
            }
        }

        // Byte by byte through windows that overlap by a header, so none is missed at a seam.
        let window = 1 << 20
        var buffer = [UInt8](repeating: 0, count: window)
        var start = badPosition + 1
        while start + Int64(headerSize) <= limit, bounds.checkBudget > 0 {
            let want = Int(min(Int64(window), limit - start))
            let got = try buffer.withUnsafeMutableBytes { raw in
                try FileSystem.pread(
                    file.fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: start, path: file.path)
            }
            bytesRead += got
            guard got >= headerSize else { return nil }
            for i in 0...(got - headerSize)
            where buffer[i + RecordBatchHeader.Offset.magic] == UInt8(RecordBatchHeader.currentMagic) {
                let position = start + Int64(i)
                guard let header = buffer.withUnsafeBytes({ RecordBatchHeader($0, at: i) }) else { continue }
                if try verifies(header, at: position) { return (position, header) }
                if bounds.checkBudget == 0 { return nil }
            }
            start += Int64(got - headerSize + 1)
        }
        return nil
    }

    /// The cheap checks a candidate header must pass before its CRC is computed.
    private static func plausible(
        _ header: RecordBatchHeader, at position: Int64, limit: Int64, bounds: ResyncBounds
    ) -> Bool {
        header.magic == RecordBatchHeader.currentMagic
            && header.batchLength >= Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead)
            && Int64(header.totalSize) <= limit - position
            && header.baseOffset >= bounds.minBaseOffset && header.lastOffsetDelta >= 0
            && header.baseOffset <= bounds.maxLastOffset - Int64(header.lastOffsetDelta)
            && header.recordCount >= 0 && Int64(header.recordCount) <= Int64(header.lastOffsetDelta) + 1
    }
}
