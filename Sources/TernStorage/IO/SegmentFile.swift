import SystemPackage

/// An open segment log file. The log and every in-flight read share it (a fetch's `sendfile`
/// keeps it alive through its ``LogSlice``), and its descriptor is closed exactly once, when the
/// last reference goes, so a read racing a truncation or a deletion never sees a reused
/// descriptor.
public final class SegmentFile: Sendable {
    let fd: FileDescriptor
    /// The file's path (for error messages and logs; the file may since have been deleted).
    public let path: String

    init(path: String, create: Bool) throws {
        self.path = path
        fd = try FileSystem.open(path, create: create)
    }

    /// The raw descriptor, for `sendfile(2)`; valid while this object is referenced.
    public var descriptor: Int32 { fd.rawValue }

    deinit {
        // The only close of this descriptor: nothing else closes it, and deinit runs once.
        try? fd.close()
    }
}
