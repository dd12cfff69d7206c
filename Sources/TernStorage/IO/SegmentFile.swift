import Synchronization
import SystemPackage

/// An open segment log file: the owner of one descriptor. A ``SegmentHandle`` (what a segment
/// holds) opens it on demand, and the process-wide ``SegmentFileCache`` decides how long the
/// handle keeps it; whoever uses the descriptor (a read, a flush's `fdatasync`, a fetch's
/// `sendfile` through its ``LogSlice``) holds a reference to this object for as long as it does.
/// The descriptor is closed exactly once, when the last reference goes, so neither an eviction
/// from the cache nor a truncation or deletion can close it under a user, and no user ever sees
/// a reused descriptor.
public final class SegmentFile: Sendable {
    let fd: FileDescriptor
    /// The file's path (for error messages and logs; the file may since have been deleted).
    public let path: String

    /// Segment descriptors open in this process, cached or in use (the gauge
    /// `tern_log_open_segment_files`).
    static let openCount = Atomic<Int>(0)
    /// Segment files opened since start (each open of an evicted file counts again).
    static let openedTotal = Atomic<Int>(0)

    init(path: String, create: Bool) throws {
        self.path = path
        fd = try FileSystem.open(path, create: create)
        Self.openCount.add(1, ordering: .relaxed)
        Self.openedTotal.add(1, ordering: .relaxed)
    }

    /// Opens the existing file at `path` again (after an eviction) unless `limit` segment
    /// descriptors are open already: a read of many evicted segments (a fetch of hundreds of
    /// partitions holds each file until its response is sent) must not take the process's last
    /// descriptors, which sockets, the metadata log and libdispatch (it crashes the process
    /// when it cannot open `/proc/self/task/…/stat`) need.
    /// - Throws: `descriptorsExhausted` at the limit or when the process has no descriptor left;
    ///   `ioError` when the open fails otherwise.
    init(reopening path: String, limit: Int) throws {
        self.path = path
        fd = try Self.reserveAndOpen(path, limit: limit)
        Self.openedTotal.add(1, ordering: .relaxed)
    }

    /// Counts a descriptor in ``openCount`` if that stays within `limit`, then opens `path`
    /// (uncounting it when the open fails).
    private static func reserveAndOpen(_ path: String, limit: Int) throws -> FileDescriptor {
        let open = openCount.add(1, ordering: .relaxed).newValue
        guard open <= limit else {
            openCount.subtract(1, ordering: .relaxed)
            throw StorageError(
                .descriptorsExhausted,
                "cannot open \(path): \(open - 1) segment files are open, the most allowed is \(limit)")
        }
        do {
            return try FileDescriptor.open(FilePath(path), .readWrite, options: [.closeOnExec], retryOnInterrupt: true)
        } catch let errno as Errno {
            openCount.subtract(1, ordering: .relaxed)
            if errno == .tooManyOpenFiles || errno == .tooManyOpenFilesInSystem {
                throw StorageError(.descriptorsExhausted, "cannot open \(path): \(errno)")
            }
            throw FileSystem.error("cannot open", path, errno)
        } catch {
            openCount.subtract(1, ordering: .relaxed)
            throw error
        }
    }

    /// The raw descriptor, for `sendfile(2)`; valid while this object is referenced.
    public var descriptor: Int32 { fd.rawValue }

    deinit {
        // The only close of this descriptor: nothing else closes it, and deinit runs once.
        try? fd.close()
        Self.openCount.subtract(1, ordering: .relaxed)
    }
}
