import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM, SIGINT and SIGHUP, caught by a handler of our own that writes the signal's number to
/// a pipe (the self-pipe trick); a Dispatch read source on `queue` hands each one to `handle`.
///
/// Why not `DispatchSource.makeSignalSource`: on Linux libdispatch installs its own `sigaction`
/// only once the source is registered, which happens later, on its manager thread, not in
/// `resume()`. The daemon had to set `SIG_IGN` first (so the default action would not end the
/// process), and a signal arriving between the two was discarded by the kernel — under load a
/// SIGTERM sent right after "ternd ready" could be lost and ternd never stopped. Here
/// `install` sets the handler synchronously; from then on every signal lands in the pipe (a byte
/// waits there until the read source runs), so none is lost, and before it the default action
/// still ends the process.
final class StopSignals {
    /// The signals caught.
    static let caught: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    private let readEnd: Int32
    private let source: any DispatchSourceRead

    /// Creates the pipe, installs the handler for ``caught`` and starts reading on `queue`.
    /// Call once per process. Fails (returns nil) only when no pipe can be made.
    static func install(queue: DispatchQueue, handle: @escaping @Sendable (Int32) -> Void) -> StopSignals? {
        var fds: [Int32] = [-1, -1]
        // Glibc's module does not export pipe2: pipe, then the flags (ternd runs no child
        // processes, so the moment without FD_CLOEXEC leaks nothing).
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        // The write end is only ever written by the handler; a full pipe (64 KiB of pending
        // signals) drops the byte rather than blocking the interrupted thread.
        signalPipeWriteEnd.store(fds[1], ordering: .sequentiallyConsistent)
        let readEnd = fds[0]
        let source = DispatchSource.makeReadSource(fileDescriptor: readEnd, queue: queue)
        source.setEventHandler {
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                for byte in buffer[..<count] { handle(Int32(byte)) }
            }
        }
        source.resume()
        for signalNumber in caught {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = terndSignalHandler
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signalNumber, &action, nil)
        }
        return StopSignals(readEnd: readEnd, source: source)
    }

    private init(readEnd: Int32, source: any DispatchSourceRead) {
        self.readEnd = readEnd
        self.source = source
    }
}

/// The pipe's write end for the handler (-1 before ``StopSignals/install(queue:handle:)``). An
/// atomic so that the async-signal handler reads it without a lock.
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The signal handler: async-signal-safe (an atomic load and one `write`), `errno` preserved.
private func terndSignalHandler(_ signalNumber: Int32) {
    let fd = signalPipeWriteEnd.load(ordering: .relaxed)
    guard fd >= 0 else { return }
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: signalNumber)
    _ = write(fd, &byte, 1)
    errno = saved
}
