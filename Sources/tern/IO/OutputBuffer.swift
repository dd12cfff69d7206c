import Synchronization

/// Buffered stdout: records are appended to a buffer that is written in large `write`s, when it
/// passes `limit` and whenever the consumer goes idle; the SIGINT handler flushes it too, so it
/// is shared behind a `Mutex`.
final class OutputBuffer: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var broken = false
    }

    private let fd: Int32
    private let limit: Int
    private let state: Mutex<State>

    init(fd: Int32 = 1, limit: Int = 64 * 1024) {
        self.fd = fd
        self.limit = limit
        var initial = State()
        initial.bytes.reserveCapacity(limit + 4096)
        self.state = Mutex(initial)
    }

    /// Appends bytes built by `body`, writing the buffer out when it passes the limit.
    /// - Returns: false once stdout is closed (a reader such as `head` went away).
    @discardableResult
    func append(_ body: (inout [UInt8]) -> Void) -> Bool {
        state.withLock { state in
            body(&state.bytes)
            if state.bytes.count >= limit { Self.writeOut(&state, fd) }
            return !state.broken
        }
    }

    /// Writes out everything buffered.
    @discardableResult
    func flush() -> Bool {
        state.withLock { state in
            Self.writeOut(&state, fd)
            return !state.broken
        }
    }

    private static func writeOut(_ state: inout State, _ fd: Int32) {
        guard !state.bytes.isEmpty else { return }
        if !state.broken, !FileDescriptorWriter.writeAll(fd, state.bytes[...]) { state.broken = true }
        state.bytes.removeAll(keepingCapacity: true)
    }
}
