import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Reads stdin in large chunks on a Dispatch thread, so a blocking `read` never holds a Swift
/// concurrency thread.
enum StandardInput {
    /// Size of each read.
    static let chunkSize = 1 << 20

    /// The next chunk of stdin; nil at end of input.
    /// - Throws: ``CLIFailure`` when reading fails.
    static func readChunk() async throws -> [UInt8]? {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<[UInt8]?, CLIFailure>, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: readChunkBlocking())
            }
        }
        return try result.get()
    }

    private static func readChunkBlocking() -> Result<[UInt8]?, CLIFailure> {
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.removeLast(buffer.count - count)
                return .success(buffer)
            }
            if count == 0 { return .success(nil) }
            if errno == EINTR { continue }
            return .failure(CLIFailure("cannot read stdin: \(String(cString: strerror(errno)))"))
        }
    }
}
