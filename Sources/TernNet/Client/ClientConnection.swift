import Logging
import Synchronization

/// A client's TCP connection: sends size-prefixed frames and hands every complete response
/// payload, in order, to `onFrame`. It shares the server's socket mechanics (reading until
/// `EAGAIN`, frame splitting, the write queue) but has no tickets: every frame goes to `onFrame`.
///
/// The connection runs on one of a few process-wide serial queues (one per core). It stays open
/// until ``close()`` or until the peer closes it, even when no reference to it is kept.
public final class ClientConnection: @unchecked Sendable {
    // `@unchecked Sendable`: `channel`'s state is touched only on `channel.loop.queue`; `send` and
    // `close` reach it through the `outbox` mutex and a hop onto that queue; `closed` is atomic.

    /// Frames waiting for the loop, guarded by `outbox`.
    private struct Outbox {
        var frames: [[UInt8]] = []
        var flushScheduled = false
        var isClosed = false
    }

    /// The peer's address, e.g. `127.0.0.1:9092`.
    public let peer: String
    private let channel: SocketChannel
    private let onFrame: @Sendable (UnsafeRawBufferPointer) -> Void
    private let onClose: @Sendable ((any Error)?) -> Void
    private let outbox = Mutex(Outbox())
    private let closed = Atomic<Bool>(false)
    /// Loop-confined: swapped with the outbox so that flushing does not allocate.
    private var drained: [[UInt8]] = []

    /// A logger that drops everything, for callers that pass none.
    public static let silentLogger = Logger(label: "tern.net.client", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects (non-blocking connect + poll/timeout). Resolves host names with getaddrinfo
    /// (IPv4 and IPv6), trying each address until one accepts. Ignores `SIGPIPE` process-wide.
    ///
    /// - Parameters:
    ///   - timeout: the whole connect, across every address tried (name resolution not included).
    ///   - maxFrameBytes: a response with a larger size prefix closes the connection with `frameTooLarge`.
    ///   - onFrame: each complete response payload (without its size prefix), in order, on the
    ///     connection's queue; the buffer is valid only during the call.
    ///   - onClose: called once when the connection closes, on its queue: nil after ``close()``,
    ///     otherwise the `NetError` that closed it (`closed` when the peer closed).
    ///   - logger: for oversized frames and I/O errors; silent by default.
    /// - Throws: `NetError`: `connectionRefused`, `timedOut`, `hostNotFound`, `invalidArgument`, `ioError`.
    public static func connect(
        host: String, port: Int, timeout: Duration, maxFrameBytes: Int,
        onFrame: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onClose: @escaping @Sendable ((any Error)?) -> Void,
        logger: Logger = ClientConnection.silentLogger
    ) throws -> ClientConnection {
        BrokenPipeSignal.ignore()
        let (socket, address) = try Connector.connect(host: host, port: port, timeout: timeout)
        var logger = logger
        logger[metadataKey: "tern_peer"] = "\(address)"
        let loop = EventLoopGroup.clients.next()
        let channel = SocketChannel(
            socket: socket, peer: address.description, loop: loop, maxFrameBytes: maxFrameBytes,
            // No read backpressure on the client: a server that stops reading requests while the
            // client stops reading responses would deadlock.
            maxPendingWriteBytes: .max, logger: logger)
        let connection = ClientConnection(channel: channel, onFrame: onFrame, onClose: onClose)
        loop.execute { channel.start(delegate: connection) }
        return connection
    }

    private init(
        channel: SocketChannel, onFrame: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onClose: @escaping @Sendable ((any Error)?) -> Void
    ) {
        self.channel = channel
        self.peer = channel.peer
        self.onFrame = onFrame
        self.onClose = onClose
    }

    /// Sends one frame; `bytes` already include the size prefix. Any thread; frames sent before
    /// the connection's queue gets to them go out together in one `writev`. Dropped once closed.
    public func send(_ bytes: [UInt8]) {
        enqueue { $0.append(bytes) }
    }

    /// Sends several frames (or pieces of one), in order, like the single-frame `send`.
    public func send(_ chunks: [[UInt8]]) {
        enqueue { $0.append(contentsOf: chunks) }
    }

    private func enqueue(_ add: (inout [[UInt8]]) -> Void) {
        let mustSchedule = outbox.withLock { outbox -> Bool in
            guard !outbox.isClosed else { return false }
            add(&outbox.frames)
            guard !outbox.flushScheduled else { return false }
            outbox.flushScheduled = true
            return true
        }
        if mustSchedule {
            channel.loop.execute { self.flushOutbox() }
        }
    }

    private func flushOutbox() {
        outbox.withLock { outbox in
            swap(&outbox.frames, &drained)
            outbox.flushScheduled = false
        }
        for frame in drained {
            channel.enqueue(.bytes(frame))
        }
        drained.removeAll(keepingCapacity: true)
        channel.flush()
    }

    /// Closes at once: frames not yet written are dropped and no `onFrame` follows. `onClose(nil)`
    /// is called (unless the connection had already closed). Any thread; idempotent.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        outbox.withLock { outbox in
            outbox.isClosed = true
            outbox.frames.removeAll()
        }
        channel.loop.execute { self.channel.close(error: nil) }
    }

    /// Whether the connection is closed or closing.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }
}

extension ClientConnection: SocketChannelDelegate {
    var channelMayDeliverFrame: Bool { !closed.load(ordering: .relaxed) }

    func channelWillDeliverFrames(_ channel: SocketChannel) {}

    func channel(_ channel: SocketChannel, didReceiveFrame frame: UnsafeRawBufferPointer) {
        onFrame(frame)
    }

    func channelDidDeliverFrames(_ channel: SocketChannel) {}

    func channelDidReachEndOfInput(_ channel: SocketChannel) {
        channel.close(error: NetError(.closed, "connection closed by \(peer)"))
    }

    func channelDidClose(_ channel: SocketChannel, error: NetError?) {
        closed.store(true, ordering: .releasing)
        outbox.withLock { outbox in
            outbox.isClosed = true
            outbox.frames.removeAll()
        }
        onClose(error)
    }
}
