#if canImport(Glibc)
import Glibc
#endif

/// What `/proc/self` says about this process, read at scrape time.
struct ProcessStatistics: Sendable {
    var residentMemoryBytes: Int64 = 0
    var virtualMemoryBytes: Int64 = 0
    var openFileDescriptors: Int64 = 0
    var maxFileDescriptors: Int64 = 0

    /// Reads `/proc/self/statm` and `/proc/self/fd` and the descriptor limit; a value that cannot
    /// be read stays 0.
    static func read() -> ProcessStatistics {
        var stats = ProcessStatistics()
        let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
        if let statm = readSmallFile("/proc/self/statm") {
            let fields = statm.split(separator: " ")
            if fields.count >= 2, let pages = Int64(fields[0]), let resident = Int64(fields[1]) {
                stats.virtualMemoryBytes = pages * pageSize
                stats.residentMemoryBytes = resident * pageSize
            }
        }
        if let directory = opendir("/proc/self/fd") {
            var count: Int64 = 0
            while let entry = readdir(directory) {
                let isDot = withUnsafeBytes(of: entry.pointee.d_name) { $0.first == UInt8(ascii: ".") }
                if !isDot { count += 1 }
            }
            closedir(directory)
            stats.openFileDescriptors = max(count - 1, 0)  // minus the directory's own descriptor
        }
        var limit = rlimit()
        if getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 { stats.maxFileDescriptors = Int64(clamping: limit.rlim_cur) }
        return stats
    }

    private static let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

    /// The text of a small file (at most 4 KiB), or nil.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
