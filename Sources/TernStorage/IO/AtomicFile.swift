import SystemPackage

/// Small files replaced crash-safely: write `path.tmp`, fsync it, rename it over `path`, fsync
/// the directory. A crash at any point leaves the old file or the new one, never a mix. Used for
/// checkpoints and markers, and by the broker for its own metadata files.
public enum AtomicFile {
    /// Replaces `path` with `bytes`.
    /// - Throws: `ioError` naming the file.
    public static func write(_ path: String, bytes: [UInt8]) throws {
        let temporary = path + ".tmp"
        let fd = try FileSystem.open(temporary, create: true)
        do {
            try FileSystem.truncate(fd, to: 0, path: temporary)
            try bytes.withUnsafeBytes { try FileSystem.pwriteAll(fd, $0, at: 0, path: temporary) }
            try FileSystem.fsync(fd, path: temporary)
            try fd.close()
        } catch {
            try? fd.close()
            try? FileSystem.unlink(temporary)
            throw error
        }
        try FileSystem.rename(temporary, path)
        try FileSystem.fsyncDirectory(FileSystem.directory(of: path))
    }

    /// The contents of `path`, or nil when it does not exist. Refuses files over `limit` bytes.
    /// - Throws: `ioError`, or `corruptLog` when the file is larger than `limit`.
    public static func readIfExists(_ path: String, limit: Int64 = 64 << 20) throws -> [UInt8]? {
        guard FileSystem.exists(path) else { return nil }
        let fd = try FileSystem.open(path, create: false)
        defer { try? fd.close() }
        let size = try FileSystem.size(fd, path: path)
        guard size <= limit else {
            throw StorageError(.corruptLog, "\(path) is \(size) bytes, more than the \(limit) expected at most")
        }
        return try FileSystem.pread(fd, count: Int(size), at: 0, path: path)
    }

    /// Renames `path` to `newPath` (replacing it) and makes the rename durable.
    /// - Throws: `ioError` naming the file.
    public static func rename(_ path: String, to newPath: String) throws {
        try FileSystem.rename(path, newPath)
        try FileSystem.fsyncDirectory(FileSystem.directory(of: newPath))
    }

    /// Removes `path` (if present) and makes the removal durable.
    public static func remove(_ path: String) throws {
        try FileSystem.unlink(path)
        try FileSystem.fsyncDirectory(FileSystem.directory(of: path))
    }
}
