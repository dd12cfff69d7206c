import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Small files replaced atomically: write `path.tmp`, fsync, rename over `path`, fsync the
/// directory. A crash at any point leaves the old file or the new one, never a mix.
public enum AtomicFile {
    /// Replaces `path` with `bytes`.
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
            throw error
        }
        try FileSystem.rename(temporary, path)
        try FileSystem.fsyncDirectory(directory(of: path))
    }

    /// The contents of `path`, or nil when it does not exist.
    public static func readIfExists(_ path: String) throws -> [UInt8]? {
        guard FileSystem.exists(path) else { return nil }
        let fd = try FileSystem.open(path, create: false)
        defer { try? fd.close() }
        let size = try FileSystem.size(fd, path: path)
        guard size <= 256 << 20 else { throw StorageError(.corruptLog, "\(path) is \(size) bytes, too large") }
        return try FileSystem.pread(fd, count: Int(size), at: 0, path: path)
    }

    /// Removes `path` and makes the removal durable.
    public static func remove(_ path: String) throws {
        try FileSystem.unlink(path)
        try FileSystem.fsyncDirectory(directory(of: path))
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }
}
