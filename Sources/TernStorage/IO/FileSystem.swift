import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The storage layer's system calls. Every call retries `EINTR`, reads `errno` before anything
/// else can touch it, and turns a failure into a ``StorageError`` naming the path and the
/// system's reason. swift-system's `FileDescriptor` covers open, read, write and close; what it
/// lacks (`fdatasync`, `ftruncate`, directory fsync, listing) is here.
enum FileSystem {
    static func error(_ what: String, _ path: String, _ errno: Errno, code: StorageError.Code = .ioError)
        -> StorageError
    {
        StorageError(code, "\(what) \(path): \(errno) (errno \(errno.rawValue))")
    }

    /// The calling thread's `errno`, read at once.
    @inline(__always)
    static func lastErrno() -> Errno { Errno(rawValue: Glibc.errno) }

    /// Opens a file for reading and writing, creating it (mode 0644) when `create` is set.
    static func open(_ path: String, create: Bool) throws -> FileDescriptor {
        do {
            return try FileDescriptor.open(
                FilePath(path), .readWrite, options: create ? [.create, .closeOnExec] : [.closeOnExec],
                permissions: create ? [.ownerReadWrite, .groupRead, .otherRead] : nil, retryOnInterrupt: true)
        } catch let errno as Errno {
            throw error("cannot open", path, errno)
        }
    }

    /// The size of an open file.
    static func size(_ fd: FileDescriptor, path: String) throws -> Int64 {
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else { throw error("cannot stat", path, lastErrno()) }
        return Int64(info.st_size)
    }

    /// Writes all of `buffer` at `offset` (one `pwrite`, repeated only after a partial write).
    static func pwriteAll(_ fd: FileDescriptor, _ buffer: UnsafeRawBufferPointer, at offset: Int64, path: String) throws
    {
        do {
            _ = try fd.writeAll(toAbsoluteOffset: offset, buffer)
        } catch let errno as Errno {
            throw error("cannot write \(buffer.count) bytes at \(offset) to", path, errno)
        }
    }

    /// Reads into `buffer` at `offset` until it is full or the file ends; returns the bytes read.
    static func pread(
        _ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    ) throws -> Int {
        var got = 0
        while got < buffer.count {
            let n: Int
            do {
                n = try fd.read(
                    fromAbsoluteOffset: offset + Int64(got),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[got...]),
                    retryOnInterrupt: true)
            } catch let errno as Errno {
                throw error("cannot read at \(offset + Int64(got)) from", path, errno)
            }
            if n == 0 { break }
            got += n
        }
        return got
    }

    /// Reads up to `count` bytes at `offset` (fewer only at the end of the file).
    static func pread(_ fd: FileDescriptor, count: Int, at offset: Int64, path: String) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var got = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            got = try pread(fd, into: UnsafeMutableRawBufferPointer(buffer), at: offset, path: path)
            initialized = got
        }
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
            if e != .interrupted { throw error("cannot truncate to \(size) bytes", path, e) }
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

    /// Creates a directory and its missing parents.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 {
                let e = lastErrno()
                guard e == .fileExists, isDirectory(current) else {
                    throw error("cannot create directory \(current) for", path, e)
                }
            }
        }
    }

    /// Creates one directory; fails if anything (a directory or a file) is already there.
    static func makeDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 else { throw error("cannot create directory", path, lastErrno()) }
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

    /// Removes a file; a file that is already gone is fine.
    static func unlink(_ path: String) throws {
        guard Glibc.unlink(path) != 0 else { return }
        let e = lastErrno()
        guard e == .noSuchFileOrDirectory else { throw error("cannot remove", path, e) }
    }

    /// Removes a directory tree.
    static func removeTree(_ path: String) throws {
        for name in try list(path) {
            let child = path + "/" + name
            if isDirectory(child) { try removeTree(child) } else { try unlink(child) }
        }
        guard rmdir(path) == 0 else { throw error("cannot remove directory", path, lastErrno()) }
    }

    /// The directory part of `path`.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    /// Milliseconds since the Unix epoch on the wall clock (for producer idle times, which must
    /// survive a restart, so a monotonic clock will not do).
    static func wallClockMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Milliseconds on a clock that never jumps (for segment ages).
    static func monotonicMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
