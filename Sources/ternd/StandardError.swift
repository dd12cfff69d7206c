#if canImport(Glibc)
import Glibc
#endif

/// Writes text to file descriptor 2 in one `write` call per line (no shared `FILE*`, so it is
/// safe from any thread).
enum StandardError {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)  // baseAddress of a non-empty buffer
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
