import Dispatch
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

    /// Where a TLS connection's handshake stands while ``connect(host:port:timeout:maxFrameBytes:tls:onFrame:onClose:logger:)`` waits.
    private enum Handshake {
        /// Not TLS, or the handshake is done: closes are reported through `onClose`.
        case done
        /// `connect` waits; a close now is its error.
        case waiting
        case failed(NetError)
        /// `connect` gave up; the close that follows is not reported.
        case abandoned
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
    private let handshake: Mutex<Handshake>
    private let handshakeFinished = DispatchSemaphore(value: 0)

    /// A logger that drops everything, for callers that pass none.
    public static let silentLogger = Logger(label: "tern.net.client", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects (non-blocking connect + poll/timeout). Resolves host names with getaddrinfo
    /// (IPv4 and IPv6), trying each address until one accepts. Ignores `SIGPIPE` process-wide.
    ///
    /// - Parameters:
    ///   - timeout: the whole connect, across every address tried (name resolution not included);
    ///     with TLS, the handshake gets as long again.
    ///   - tls: a client ``TLSContext`` to speak TLS (verifying the broker's certificate and,
    ///     unless turned off, that it names `host`); nil for plaintext. With TLS, `connect`
    ///     returns once the handshake is complete.
    ///   - maxFrameBytes: a response with a larger size prefix closes the connection with `frameTooLarge`.
    ///   - onFrame: each complete response payload (without its size prefix), in order, on the
    ///     connection's queue; the buffer is valid only during the call.
    ///   - onClose: called once when the connection closes, on its queue: nil after ``close()``,
    ///     otherwise the `NetError` that closed it (`closed` when the peer closed).
    ///   - logger: for oversized frames and I/O errors; silent by default.
    /// - Throws: `NetError`: `connectionRefused`, `timedOut`, `hostNotFound`, `invalidArgument`,
    ///   `ioError`; with TLS also `tlsHandshakeFailed` (with OpenSSL's reason, e.g. an expired or
    ///   unknown certificate or a host name mismatch) and `tlsNotSpoken` (a plaintext broker).
    public static func connect(
        host: String, port: Int, timeout: Duration, maxFrameBytes: Int, tls: TLSContext? = nil,
        onFrame: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onClose: @escaping @Sendable ((any Error)?) -> Void,
        logger: Logger = ClientConnection.silentLogger
    ) throws -> ClientConnection {
        BrokenPipeSignal.ignore()
        let (socket, address) = try Connector.connect(host: host, port: port, timeout: timeout)
        var logger = logger
        logger[metadataKey: "tern_peer"] = "\(address)"
        let loop = EventLoopGroup.clients.next()
        var stream: TLSStream?
        if let tls {
            do {
                stream = try TLSStream(context: tls, serverName: host, peerName: "\(host):\(port)")
            } catch {
                socket.close()
                throw error
            }
        }
        let channel = SocketChannel(
            socket: socket, peer: address.description, loop: loop, maxFrameBytes: maxFrameBytes,
            // No read backpressure on the client: a server that stops reading requests while the
            // client stops reading responses would deadlock.
            maxPendingWriteBytes: .max, tls: stream, sniff: .detectTLSReply, logger: logger)
        let connection = ClientConnection(
            channel: channel, onFrame: onFrame, onClose: onClose, awaitsHandshake: stream != nil)
        loop.execute { channel.start(delegate: connection) }
        if stream != nil { try connection.waitForHandshake(timeout: timeout, peer: "\(host):\(port)") }
        return connection
    }

    private init(
        channel: SocketChannel, onFrame: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onClose: @escaping @Sendable ((any Error)?) -> Void, awaitsHandshake: Bool
    ) {
        self.channel = channel
        self.peer = channel.peer
        self.onFrame = onFrame
        self.onClose = onClose
        self.handshake = Mutex(awaitsHandshake ? .waiting : .done)
    }

    private func waitForHandshake(timeout: Duration, peer: String) throws(NetError) {
        let signalled = handshakeFinished.wait(timeout: .now() + .nanoseconds(Int(timeout.clampedNanoseconds)))
        let outcome = handshake.withLock { state -> Handshake in
            if signalled == .timedOut, case .waiting = state { state = .abandoned }
            return state
        }
        switch outcome {
        case .done:
            return
        case .failed(let error):
            throw error
        case .waiting, .abandoned:
            close()
            throw NetError(.timedOut, "TLS handshake with the broker at \(peer) did not finish within \(timeout)")
        }
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

    func channelDidCompleteHandshake(_ channel: SocketChannel) {
        let wasWaiting = handshake.withLock { state -> Bool in
            guard case .waiting = state else { return false }
            state = .done
            return true
        }
        if wasWaiting { handshakeFinished.signal() }
    }

    func channelDidClose(_ channel: SocketChannel, error: NetError?) {
        closed.store(true, ordering: .releasing)
        outbox.withLock { outbox in
            outbox.isClosed = true
            outbox.frames.removeAll()
        }
        // A close before the handshake finished is `connect`'s error, not a closed connection.
        let report = handshake.withLock { state -> Bool in
            switch state {
            case .done:
                return true
            case .waiting:
                state = .failed(error ?? NetError(.closed, "connection to \(peer) closed during the TLS handshake"))
                handshakeFinished.signal()
                return false
            case .failed, .abandoned:
                return false
            }
        }
        guard report else { return }
        onClose(error)
    }
}
