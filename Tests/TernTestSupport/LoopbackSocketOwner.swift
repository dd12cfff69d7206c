import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Which local process holds the other end of a loopback TCP connection, read from `/proc`
/// (Linux): the connection's socket inode from `/proc/net/tcp{,6}`, then the process whose
/// `/proc/PID/fd` links to `socket:[INODE]`. Test support for ``LoopbackProxy``'s per-source
/// faults; a lookup that finds nothing (another OS, a process already gone) answers nil.
public enum LoopbackSocketOwner {
    /// The inode of the loopback socket bound to `localPort` and connected to `remotePort`.
    public static func inode(localPort: Int, remotePort: Int) -> String? {
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let bytes = read(table) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, port(of: fields[1]) == localPort, port(of: fields[2]) == remotePort,
                    fields[9] != "0"
                else { continue }
                return String(fields[9])
            }
        }
        return nil
    }

    /// The running processes called `name` (`/proc/PID/comm`) with their command-line arguments.
    public static func processes(named name: String) -> [(pid: Int32, arguments: [String])] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [(pid: Int32, arguments: [String])] = []
        for entry in entries {
            guard let pid = Int32(entry),
                let comm = read("/proc/\(entry)/comm"),
                String(decoding: comm, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == name,
                let cmdline = read("/proc/\(entry)/cmdline")
            else { continue }
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            found.append((pid, arguments))
        }
        return found
    }

    /// True when one of `pid`'s open descriptors is the socket `inode`.
    public static func process(_ pid: Int32, holds inode: String) -> Bool {
        let directory = "/proc/\(pid)/fd"
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return false }
        let target = "socket:[\(inode)]"
        return descriptors.contains {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)")) == target
        }
    }

    /// The parent PID of `pid`, from `/proc/PID/stat` (the field after the parenthesised name).
    public static func parent(of pid: Int32) -> Int32? {
        guard let bytes = read("/proc/\(pid)/stat") else { return nil }
        let stat = String(decoding: bytes, as: UTF8.self)
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// A whole `/proc` file: they report size 0, so read to the end rather than by size.
    private static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? bytes : nil }
            bytes += chunk[0..<n]
        }
    }

    /// `ADDRESS:PORT` (hex) → the port.
    private static func port(of field: Substring) -> Int? {
        guard let colon = field.lastIndex(of: ":") else { return nil }
        return Int(field[field.index(after: colon)...], radix: 16)
    }
}
