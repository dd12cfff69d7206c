import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A listening socket and the read source that accepts its connections.
///
/// Each event accepts until `EAGAIN`. When the process runs out of descriptors (`EMFILE`,
/// `ENFILE`) it logs, pauses accepting for a moment and keeps serving the connections it has.
final class Listener: @unchecked Sendable {
    // `@unchecked Sendable`: `source`, `suspended`, `stopped` and `onAccept` are touched only on
    // `loop.queue`; `socket` is handed to that queue by `start()` and closed there.

    /// The address bound, with the actual port.
    let address: SocketAddress
    private let loop: EventLoop
    private let socket: SocketDescriptor
    private let logger: Logger
    private var onAccept: ((SocketDescriptor, SocketAddress) -> Void)?
    private var source: (any DispatchSourceRead)?
    private var suspended = false
    private var stopped = false
    private let closed = DispatchGroup()
    /// One line at once, then one every 10 s, while accepting keeps failing.
    private let exhaustionLog = LogRateLimiter(burst: 1, perSecond: 0.1)

    /// How long accepting pauses after running out of descriptors.
    static let descriptorExhaustionPause = DispatchTimeInterval.milliseconds(100)

    /// Binds and listens.
    /// - Throws: `NetError` naming the address (`addressInUse` for `EADDRINUSE`).
    init(
        address requested: SocketAddress, backlog: Int32, loop: EventLoop, logger: Logger,
        onAccept: @escaping (SocketDescriptor, SocketAddress) -> Void
    ) throws(NetError) {
        let fd = try Syscall.socket(family: requested.family)
        let socket = SocketDescriptor(fd)
        do {
            try Syscall.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1, "setsockopt(SO_REUSEADDR)")
            try Syscall.bind(fd, to: requested)
            try Syscall.listen(fd, backlog: backlog, address: requested)
            self.address = try Syscall.localAddress(fd)
        } catch {
            socket.close()
            throw error
        }
        self.socket = socket
        self.loop = loop
        self.logger = logger
        self.onAccept = onAccept
    }

    /// Starts accepting on the loop.
    func start() {
        closed.enter()
        loop.execute {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.socket.rawValue, queue: self.loop.queue)
            source.setEventHandler { self.acceptAll() }
            source.setCancelHandler {
                self.socket.close()
                self.source = nil
                self.onAccept = nil
                self.closed.leave()
            }
            self.source = source
            source.resume()
        }
    }

    /// Stops accepting and closes the socket (asynchronously, on the loop).
    func stop() {
        loop.execute {
            guard !self.stopped, let source = self.source else { return }
            self.stopped = true
            if self.suspended {
                self.suspended = false
                source.resume()
            }
            source.cancel()
        }
    }

    /// Waits until the socket is closed after ``stop()``, at most until `deadline`.
    func waitUntilClosed(deadline: DispatchTime) {
        _ = closed.wait(timeout: deadline)
    }

    private func acceptAll() {
        while !stopped {
            switch Syscall.accept(socket.rawValue) {
            case .processed((let fd, let peer)):
                onAccept?(SocketDescriptor(fd), peer)
            case .wouldBlock:
                return
            case .failed(let error):
                switch error.systemError {
                case ECONNABORTED, EPROTO, EPERM:
                    continue  // that one connection failed; others may be waiting
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Up to ten times a second while descriptors stay exhausted: rate-limited.
                    exhaustionLog.log(
                        logger, level: .error, "cannot accept connections: out of descriptors or memory; pausing accepts",
                        metadata: ["error": "\(error)", "tern_listener": "\(address)"])
                    pauseAccepting()
                    return
                default:
                    logger.error("accept failed", metadata: ["error": "\(error)", "tern_listener": "\(address)"])
                    return
                }
            }
        }
    }

    /// Suspends the (level-triggered) source, which would otherwise fire again at once, and
    /// resumes it shortly; connections already open keep being served meanwhile.
    private func pauseAccepting() {
        guard let source, !suspended else { return }
        suspended = true
        source.suspend()
        loop.queue.asyncAfter(deadline: .now() + Self.descriptorExhaustionPause) {
            guard !self.stopped, self.suspended, let source = self.source else { return }
            self.suspended = false
            source.resume()
        }
    }
}
