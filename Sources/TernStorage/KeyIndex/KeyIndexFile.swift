import SystemPackage
import TernWire

/// A sealed segment's key index on disk, `N.keyindex`: the segment's (key hash, relative offset)
/// entries sorted by hash then offset, cut into blocks of ``blockEntries`` entries, with a block
/// table (each block's first hash and CRC-32C) that stays in memory. A lookup binary-searches the
/// block table and reads only the one or two blocks that can hold the hash (one `pread` each), so
/// memory per sealed segment is 12 bytes per 1,024 records, whatever the segment holds.
///
/// ```
/// header (40 bytes): magic "TERNKIX1" | entryCount u32 | blockEntries u32 | logSize i64 |
///                    span u32 (nextOffset - baseOffset) | hashBits u32 | reserved u32 | headerCRC u32
/// entries:           entryCount × (hash u64, relativeOffset u32)
/// block table:       blockCount × (firstHash u64, blockCRC u32)
/// tableCRC u32       (CRC-32C of the block table)
/// ```
/// All integers big-endian. The file describes one exact segment log (its size and offset span);
/// an index whose header, size, block table or a block's CRC does not check out is rebuilt from
/// the segment (never trusted): exactness comes from the log, and the index only narrows where to look.
struct KeyIndexFile: Sendable {
    static let magic: [UInt8] = Array("TERNKIX1".utf8)
    static let headerSize = 40
    static let entrySize = 12
    static let tableEntrySize = 12
    static let blockEntries = 1024

    let path: String
    let entryCount: Int
    let logSize: Int64
    let span: UInt32
    let hashBits: Int
    /// Each block's first hash.
    let firstHashes: [UInt64]
    let blockCRCs: [UInt32]

    var blockCount: Int { firstHashes.count }
    /// Bytes this index keeps in memory.
    var memoryBytes: Int { firstHashes.capacity * 8 + blockCRCs.capacity * 4 }

    static func path(directory: String, baseOffset: Int64) -> String {
        directory + "/" + Segment.fileName(baseOffset, ".keyindex")
    }

    /// The file bytes for `entries` (sorted) of a segment of `logSize` bytes spanning `span` offsets.
    static func serialize(_ entries: [KeyIndexEntry], logSize: Int64, span: UInt32, hashBits: Int) -> [UInt8] {
        let blocks = (entries.count + blockEntries - 1) / blockEntries
        var bytes = [UInt8]()
        bytes.reserveCapacity(headerSize + entries.count * entrySize + blocks * tableEntrySize + 4)
        bytes += magic
        append(UInt32(entries.count), to: &bytes)
        append(UInt32(blockEntries), to: &bytes)
        append(UInt64(bitPattern: logSize), to: &bytes)
        append(span, to: &bytes)
        append(UInt32(hashBits), to: &bytes)
        append(UInt32(0), to: &bytes)
        append(CRC32C.checksum(bytes, range: 0..<bytes.count), to: &bytes)
        for entry in entries {
            append(entry.hash, to: &bytes)
            append(entry.relativeOffset, to: &bytes)
        }
        var table = [UInt8]()
        table.reserveCapacity(blocks * tableEntrySize)
        for block in 0..<blocks {
            let start = headerSize + block * blockEntries * entrySize
            let end = headerSize + min(entries.count, (block + 1) * blockEntries) * entrySize
            append(entries[block * blockEntries].hash, to: &table)
            append(CRC32C.checksum(bytes, range: start..<end), to: &table)
        }
        bytes += table
        append(CRC32C.checksum(table, range: 0..<table.count), to: &bytes)
        return bytes
    }

    /// Writes the index of a segment crash-safely (write, fsync, rename, fsync the directory).
    static func write(
        _ entries: [KeyIndexEntry], directory: String, baseOffset: Int64, logSize: Int64, span: UInt32, hashBits: Int
    ) throws -> KeyIndexFile {
        let path = path(directory: directory, baseOffset: baseOffset)
        let bytes = serialize(entries, logSize: logSize, span: span, hashBits: hashBits)
        try AtomicFile.write(path, bytes: bytes)
        switch parseHead(bytes, fileSize: Int64(bytes.count), path: path) {
        case .success(let file): return file
        case .failure(let problem): throw StorageError(.ioError, "\(path): just written but unreadable: \(problem)")
        }
    }

    /// Opens the index of a segment of `logSize` bytes spanning `span` offsets: reads the header
    /// and the block table and checks them; a failure says why the file cannot be used.
    static func open(directory: String, baseOffset: Int64, logSize: Int64, span: UInt32, hashBits: Int) -> Result<
        KeyIndexFile, IndexProblem
    > {
        let path = path(directory: directory, baseOffset: baseOffset)
        guard FileSystem.exists(path) else { return .failure(IndexProblem("\(path) is missing")) }
        do {
            let fd = try FileSystem.open(path, create: false)
            defer { try? fd.close() }
            let fileSize = try FileSystem.size(fd, path: path)
            guard fileSize >= Int64(headerSize + 4) else {
                return .failure(IndexProblem("\(path): \(fileSize) bytes is shorter than its header"))
            }
            let header = try FileSystem.pread(fd, count: headerSize, at: 0, path: path)
            guard header.count == headerSize else { return .failure(IndexProblem("\(path): short header")) }
            let count = Int(u32(header, 8))
            let blocks = (count + blockEntries - 1) / blockEntries
            let tableStart = Int64(headerSize) + Int64(count) * Int64(entrySize)
            guard fileSize == tableStart + Int64(blocks * tableEntrySize + 4) else {
                return .failure(IndexProblem("\(path): \(fileSize) bytes does not fit \(count) entries"))
            }
            let table = try FileSystem.pread(fd, count: blocks * tableEntrySize + 4, at: tableStart, path: path)
            let file: KeyIndexFile
            switch parseHead(header + table, fileSize: fileSize, path: path, tableOnly: true) {
            case .success(let parsed): file = parsed
            case .failure(let problem): return .failure(problem)
            }
            guard file.logSize == logSize, file.span == span else {
                return .failure(
                    IndexProblem(
                        "\(path) describes a log of \(file.logSize) bytes and \(file.span) offsets, "
                            + "not \(logSize) and \(span)"))
            }
            guard file.hashBits == hashBits else {
                return .failure(IndexProblem("\(path) uses \(file.hashBits)-bit hashes, not \(hashBits)"))
            }
            return .success(file)
        } catch {
            return .failure(IndexProblem("\(path): \(error)"))
        }
    }

    /// Parses a header and block table: either the whole file (`tableOnly` false) or the header
    /// followed directly by the block table and its CRC.
    private static func parseHead(_ bytes: [UInt8], fileSize: Int64, path: String, tableOnly: Bool = false) -> Result<
        KeyIndexFile, IndexProblem
    > {
        guard bytes.count >= headerSize + 4, Array(bytes[0..<8]) == magic else {
            return .failure(IndexProblem("\(path): not a key index file"))
        }
        guard CRC32C.checksum(bytes, range: 0..<headerSize - 4) == u32(bytes, headerSize - 4) else {
            return .failure(IndexProblem("\(path): header CRC mismatch"))
        }
        let count = Int(u32(bytes, 8))
        guard Int(u32(bytes, 12)) == blockEntries else {
            return .failure(IndexProblem("\(path): block size \(u32(bytes, 12)) is not \(blockEntries)"))
        }
        let blocks = (count + blockEntries - 1) / blockEntries
        let tableStart = tableOnly ? headerSize : headerSize + count * entrySize
        let tableEnd = tableStart + blocks * tableEntrySize
        guard bytes.count == tableEnd + 4 else { return .failure(IndexProblem("\(path): truncated block table")) }
        guard CRC32C.checksum(bytes, range: tableStart..<tableEnd) == u32(bytes, tableEnd) else {
            return .failure(IndexProblem("\(path): block table CRC mismatch"))
        }
        var firstHashes = [UInt64]()
        var crcs = [UInt32]()
        firstHashes.reserveCapacity(blocks)
        crcs.reserveCapacity(blocks)
        for block in 0..<blocks {
            let at = tableStart + block * tableEntrySize
            let first = u64(bytes, at)
            if let last = firstHashes.last, first < last {
                return .failure(IndexProblem("\(path): block table not sorted at block \(block)"))
            }
            firstHashes.append(first)
            crcs.append(u32(bytes, at + 8))
        }
        return .success(
            KeyIndexFile(
                path: path, entryCount: count, logSize: Int64(bitPattern: u64(bytes, 16)), span: u32(bytes, 24),
                hashBits: Int(u32(bytes, 28)), firstHashes: firstHashes, blockCRCs: crcs))
    }

    /// The relative offsets of the records with `hash`, ascending, at or after `from`.
    /// - Throws: `corruptLog` when a block read does not match its CRC or is not sorted (the
    ///   caller rebuilds the index); `ioError`.
    func offsets(of hash: UInt64, from: UInt32 = 0) throws -> [UInt32] {
        guard blockCount > 0 else { return [] }
        // Blocks that may hold `hash`: from the last one starting below it (an earlier block's
        // tail may hold it) to the last one starting at or below it.
        var low = 0
        var high = blockCount
        while low < high {
            let mid = (low + high) / 2
            if firstHashes[mid] < hash { low = mid + 1 } else { high = mid }
        }
        let first = max(0, low - 1)
        var last = low
        while last < blockCount && firstHashes[last] == hash { last += 1 }
        last -= 1
        guard last >= first else { return [] }
        let fd = try FileSystem.open(path, create: false)
        defer { try? fd.close() }
        var found: [UInt32] = []
        for block in first...last {
            let start = block * Self.blockEntries
            let count = min(entryCount - start, Self.blockEntries)
            let bytes = try FileSystem.pread(
                fd, count: count * Self.entrySize, at: Int64(Self.headerSize + start * Self.entrySize), path: path)
            guard bytes.count == count * Self.entrySize,
                CRC32C.checksum(bytes, range: 0..<bytes.count) == blockCRCs[block]
            else {
                throw StorageError(.corruptLog, "\(path): block \(block) does not match its CRC")
            }
            var previous: (UInt64, UInt32)?
            for i in 0..<count {
                let h = Self.u64(bytes, i * Self.entrySize)
                let relative = Self.u32(bytes, i * Self.entrySize + 8)
                if let previous, (h, relative) <= previous {
                    throw StorageError(.corruptLog, "\(path): block \(block) is not sorted")
                }
                previous = (h, relative)
                if h == hash && relative >= from {
                    guard relative < span else {
                        throw StorageError(.corruptLog, "\(path): offset \(relative) is past the segment")
                    }
                    found.append(relative)
                }
            }
        }
        return found
    }

    private static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in at..<at + 4 { value = value << 8 | UInt32(bytes[i]) }
        return value
    }

    static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in at..<at + 8 { value = value << 8 | UInt64(bytes[i]) }
        return value
    }
}
