import SystemPackage

/// An open segment file. Shared by the log and by in-flight reads (a fetch's `sendfile` keeps it
/// alive), and closed exactly once, when the last reference goes.
public final class SegmentFile: Sendable {
    let fd: FileDescriptor
    /// The file's path.
    public let path: String

    init(path: String, create: Bool) throws {
        self.path = path
        fd = try FileSystem.open(path, create: create)
    }

    /// The raw descriptor, for `sendfile(2)`; valid while this object is referenced.
    public var descriptor: Int32 { fd.rawValue }

    deinit { try? fd.close() }
}
