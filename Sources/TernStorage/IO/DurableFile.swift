import Synchronization
import SystemPackage

/// One file read and written at explicit offsets and made durable on demand: the storage
/// layer's system calls (EINTR retried, errors naming the path) for a file that is not a
/// partition segment — the metadata quorum's log in TernBroker.
///
/// Not synchronized: one owner uses it at a time. It closes its descriptor exactly once.
public final class DurableFile: Sendable {
    /// The file's path.
    public let path: String
    private let fd: FileDescriptor
    private let closed = Atomic<Bool>(false)

    private init(path: String, fd: FileDescriptor) {
        self.path = path
        self.fd = fd
    }

    deinit {
        if !closed.load(ordering: .relaxed) { try? fd.close() }
    }

    /// Opens `path` for reading and writing. With `create`, a missing file is created and its
    /// directory entry made durable.
    /// - Throws: ``StorageError`` `ioError` naming the file.
    public static func open(_ path: String, create: Bool) throws -> DurableFile {
        let existed = FileSystem.exists(path)
        let file = DurableFile(path: path, fd: try FileSystem.open(path, create: create))
        if !existed { try FileSystem.fsyncDirectory(FileSystem.directory(of: path)) }
        return file
    }

    /// The file's size in bytes.
    public func size() throws -> Int64 { try FileSystem.size(fd, path: path) }

    /// Up to `count` bytes at `offset` (fewer only at the end of the file).
    public func read(count: Int, at offset: Int64) throws -> [UInt8] {
        try FileSystem.pread(fd, count: count, at: offset, path: path)
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try FileSystem.pwriteAll(fd, $0, at: offset, path: path) }
    }

    /// Cuts the file to `size` bytes.
    public func truncate(to size: Int64) throws { try FileSystem.truncate(fd, to: size, path: path) }

    /// `fdatasync`: what was written (and the size) is on the disk when this returns.
    public func sync() throws { try FileSystem.fdatasync(fd, path: path) }

    /// Closes the descriptor; later calls fail. Idempotent.
    public func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        try? fd.close()
    }

    /// Creates `path` and its missing parents.
    public static func makeDirectories(_ path: String) throws { try FileSystem.makeDirectories(path) }

    /// The names in directory `path` (without `.` and `..`), in no particular order.
    public static func list(_ path: String) throws -> [String] { try FileSystem.list(path) }

    /// Whether `path` exists.
    public static func exists(_ path: String) -> Bool { FileSystem.exists(path) }

    /// Renames `from` to `to` (replacing it) and makes the rename durable (fsyncs the directory).
    public static func rename(_ from: String, to: String) throws {
        try FileSystem.rename(from, to)
        try FileSystem.fsyncDirectory(FileSystem.directory(of: to))
    }
}
