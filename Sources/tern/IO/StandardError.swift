#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to stderr.
enum StandardError {
    /// Writes `line` and a newline in one `write`.
    static func writeLine(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        _ = FileDescriptorWriter.writeAll(2, bytes[...])
    }
}

/// Whole writes to a file descriptor.
enum FileDescriptorWriter {
    /// Writes all of `bytes`, retrying on `EINTR` and partial writes.
    /// - Returns: false when the descriptor refuses (a closed pipe).
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var remaining = bytes
        while !remaining.isEmpty {
            let written = remaining.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            remaining = remaining.dropFirst(written)
        }
        return true
    }
}
