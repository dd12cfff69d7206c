import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The storage layer's system calls: EINTR retried, errno turned into ``StorageError`` with the
/// path and the system's reason. swift-system's `FileDescriptor` covers open/read/write/close;
/// what it lacks (`fdatasync`, `ftruncate`, directory fsync and listing) is here.
enum FileSystem {
    static func error(_ what: String, _ path: String, _ errno: Errno) -> StorageError {
        StorageError(.ioError, "\(what) \(path): \(errno)")
    }

    static func lastErrno() -> Errno { Errno(rawValue: Glibc.errno) }

    /// Opens (creating when asked) a file for reading and writing.
    static func open(_ path: String, create: Bool) throws -> FileDescriptor {
        do {
            return try FileDescriptor.open(
                FilePath(path), .readWrite, options: create ? [.create, .closeOnExec] : [.closeOnExec],
                permissions: create ? [.ownerReadWrite, .groupRead, .otherRead] : nil, retryOnInterrupt: true)
        } catch let errno as Errno {
            throw error("cannot open", path, errno)
        }
    }

    static func size(_ fd: FileDescriptor, path: String) throws -> Int64 {
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else { throw error("cannot stat", path, lastErrno()) }
        return Int64(info.st_size)
    }

    /// Writes all of `buffer` at `offset`.
    static func pwriteAll(_ fd: FileDescriptor, _ buffer: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        do {
            _ = try fd.writeAll(toAbsoluteOffset: offset, buffer)
        } catch let errno as Errno {
            throw error("cannot write", path, errno)
        }
    }

    /// Reads up to `count` bytes at `offset` (fewer only at end of file).
    static func pread(_ fd: FileDescriptor, count: Int, at offset: Int64, path: String) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n: Int
            do {
                n = try bytes.withUnsafeMutableBytes { raw in
                    try fd.read(
                        fromAbsoluteOffset: offset + Int64(got),
                        into: UnsafeMutableRawBufferPointer(rebasing: raw[got...]), retryOnInterrupt: true)
                }
            } catch let errno as Errno {
                throw error("cannot read", path, errno)
            }
            if n == 0 { break }
            got += n
        }
        if got < count { bytes.removeLast(count - got) }
        return bytes
    }

    static func fdatasync(_ fd: FileDescriptor, path: String) throws {
        while Glibc.fdatasync(fd.rawValue) != 0 {
            let e = lastErrno()
            if e != .interrupted { throw error("cannot fdatasync", path, e) }
        }
    }

    static func fsync(_ fd: FileDescriptor, path: String) throws {
        while Glibc.fsync(fd.rawValue) != 0 {
            let e = lastErrno()
            if e != .interrupted { throw error("cannot fsync", path, e) }
        }
    }

    static func truncate(_ fd: FileDescriptor, to size: Int64, path: String) throws {
        while ftruncate(fd.rawValue, off_t(size)) != 0 {
            let e = lastErrno()
            if e != .interrupted { throw error("cannot truncate", path, e) }
        }
    }

    /// fsyncs a directory so that entries created, renamed or removed in it are durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error("cannot open directory", path, lastErrno()) }
        defer { Glibc.close(fd) }
        while Glibc.fsync(fd) != 0 {
            let e = lastErrno()
            if e != .interrupted { throw error("cannot fsync directory", path, e) }
        }
    }

    /// Creates a directory and its parents; fails with `logDirUnavailable` naming the path.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 {
                let e = lastErrno()
                guard e == .fileExists, isDirectory(current) else {
                    throw StorageError(.logDirUnavailable, "cannot create directory \(current) for \(path): \(e)")
                }
            }
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Names in a directory, without `.` and `..`.
    static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw error("cannot list", path, lastErrno()) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw error("cannot rename to \(to):", from, lastErrno()) }
    }

    static func unlink(_ path: String) throws {
        guard Glibc.unlink(path) == 0 || lastErrno() == .noSuchFileOrDirectory else {
            throw error("cannot remove", path, lastErrno())
        }
    }

    /// Removes a directory tree.
    static func removeTree(_ path: String) throws {
        for name in try list(path) {
            let child = path + "/" + name
            if isDirectory(child) { try removeTree(child) } else { try unlink(child) }
        }
        guard rmdir(path) == 0 else { throw error("cannot remove directory", path, lastErrno()) }
    }
}
