import Dispatch
import Logging
import Synchronization

/// A TCP server: accepts connections and spreads them round-robin over a small fixed pool of
/// serial queues, where each connection reads frames, hands them to the handler and writes the
/// responses in order.
public final class Server: Sendable {
    private struct State {
        var listener: Listener?
        var started = false
        var accepting = false
        var boundPort = 0
        var connections: [UInt64: ServerConnection] = [:]
    }

    private let configuration: ServerConfiguration
    private let handler: any ServerConnectionHandler
    private let logger: Logger
    private let loops: EventLoopGroup
    private let sweepers: [IdleSweeper]
    private let state = Mutex(State())
    /// Entered per open connection, left when it has closed; shutdown waits on it.
    private let openConnections = DispatchGroup()

    /// Connection ids are unique across the servers of a process, which keeps log lines apart.
    private static let nextConnectionID = Atomic<UInt64>(1)

    /// Creates a server; nothing is bound until ``start()``.
    /// Ignores `SIGPIPE` process-wide (a write to a closed socket then fails with `EPIPE`).
    public init(configuration: ServerConfiguration, handler: any ServerConnectionHandler, logger: Logger) {
        BrokenPipeSignal.ignore()
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        let loops = EventLoopGroup(count: configuration.eventLoopCount, label: "tern.net.server")
        self.loops = loops
        if configuration.idleTimeout != nil || configuration.partialRequestTimeout != nil {
            self.sweepers = loops.loops.map {
                IdleSweeper(
                    loop: $0, idleTimeout: configuration.idleTimeout,
                    partialRequestTimeout: configuration.partialRequestTimeout)
            }
        } else {
            self.sweepers = []
        }
    }

    deinit {
        // A server dropped without shutdown() stops accepting; its connections run until closed.
        closeListener()?.stop()
        sweepers.forEach { $0.stop() }
    }

    /// Binds and listens on `host:port` and starts accepting.
    /// - Throws: `NetError` naming `host:port` and the `strerror` text: `addressInUse`,
    ///   `hostNotFound`, `invalidArgument` or `ioError`.
    public func start() throws {
        try state.withLock { state throws(NetError) in
            precondition(!state.started, "Server.start() called twice")
            let addresses = try SocketAddress.resolve(
                host: configuration.host, port: configuration.port, passive: true)
            var listener: Listener?
            var lastError = NetError(.hostNotFound, "no address for \(configuration.host)")
            for address in addresses {
                do throws(NetError) {
                    listener = try Listener(
                        address: address, backlog: configuration.backlog, loop: loops.loops[0], logger: logger
                    ) { [weak self] socket, peer in
                        guard let self else { return socket.close() }
                        self.accepted(socket, from: peer)
                    }
                    break
                } catch {
                    lastError = error
                    // A taken port is taken on every address; other errors may be per family.
                    if error.code == .addressInUse { break }
                }
            }
            guard let listener else {
                if lastError.code == .addressInUse {
                    lastError.message =
                        "cannot listen on \(configuration.host):\(configuration.port): "
                        + NetError.errorText(lastError.systemError ?? 0)
                }
                throw lastError
            }
            state.started = true
            state.accepting = true
            state.listener = listener
            state.boundPort = listener.address.port
            listener.start()
        }
        sweepers.forEach { $0.start() }
    }

    /// The port the server listens on (useful with port 0); 0 before ``start()``.
    public var boundPort: Int { state.withLock { $0.boundPort } }

    /// The number of open connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Stops accepting new connections and closes the listening socket; open connections go on.
    public func stopAccepting() {
        closeListener()?.stop()
    }

    /// Marks the server as no longer accepting and returns its listener (kept, so that shutdown
    /// can wait for its socket to close; stopping it twice is harmless).
    private func closeListener() -> Listener? {
        state.withLock { state in
            state.accepting = false
            return state.listener
        }
    }

    /// Stops accepting, closes every connection gracefully (no new requests are read; responses
    /// to requests in flight are awaited and written), waits up to `timeout` for that, then closes
    /// whatever remains at once. Returns when every connection has closed and its
    /// `connectionDidClose` has run.
    ///
    /// Blocks the calling thread: never call it from a connection handler or a TernNet queue.
    public func shutdown(timeout: Duration) {
        let listener = closeListener()
        listener?.stop()
        let deadline = DispatchTime.now() + .nanoseconds(Int(timeout.clampedNanoseconds))
        for connection in state.withLock({ Array($0.connections.values) }) {
            connection.close()
        }
        if openConnections.wait(timeout: deadline) == .timedOut {
            let remaining = state.withLock { Array($0.connections.values) }
            logger.warning(
                "shutdown timed out waiting for requests in flight; closing connections",
                metadata: ["tern_connections": "\(remaining.count)", "tern_timeout": "\(timeout)"])
            for connection in remaining {
                connection.abort()
            }
            // Aborting only cancels sources and closes descriptors: quick, but bounded anyway.
            _ = openConnections.wait(timeout: .now() + .seconds(5))
        }
        listener?.waitUntilClosed(deadline: .now() + .seconds(5))
        sweepers.forEach { $0.stop() }
    }

    /// On the listener's loop: set up an accepted socket and hand it to the next loop.
    private func accepted(_ socket: SocketDescriptor, from address: SocketAddress) {
        let peer = address.description
        do {
            try Syscall.prepareAccepted(socket.rawValue)
        } catch {
            LogRateLimiter.peerWarnings.warning(
                logger, "cannot set up accepted connection", metadata: ["tern_peer": "\(peer)", "error": "\(error)"])
            socket.close()
            return
        }
        let host = address.host
        let limiter = configuration.connectionLimiter
        if let limiter, let refusal = limiter.admit(host: host) {
            LogRateLimiter.peerWarnings.warning(
                logger, "refusing connection: over \(refusal.rawValue)",
                metadata: [
                    "tern_peer": "\(peer)",
                    "tern_limit": "\(refusal == .maxConnections ? limiter.maxConnections : limiter.maxConnectionsPerIP)",
                ])
            socket.close()
            return
        }
        var tls: TLSStream?
        if let holder = configuration.tls {
            do {
                tls = try TLSStream(context: holder.context, serverName: nil, peerName: peer)
            } catch {
                LogRateLimiter.peerWarnings.warning(
                    logger, "cannot set up TLS for accepted connection", metadata: ["tern_peer": "\(peer)", "error": "\(error)"])
                limiter?.release(host: host)
                socket.close()
                return
            }
        }
        let id = Self.nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let loop = loops.next()
        let connection = ServerConnection(
            id: id, socket: socket, peer: peer, host: host, loop: loop, configuration: configuration, tls: tls,
            handler: handler, logger: logger
        ) { [weak self] connection in
            self?.connectionDidClose(connection)
        }
        let sweeper = sweepers.isEmpty ? nil : sweepers[loop.index]
        let admitted = state.withLock { state in
            guard state.accepting else { return false }
            state.connections[id] = connection
            openConnections.enter()
            // Queued under the lock: a shutdown that sees this connection queues its close after
            // the start, on the same serial queue.
            loop.execute {
                sweeper?.add(connection)
                connection.start()
            }
            return true
        }
        guard admitted else {
            limiter?.release(host: host)
            connection.channel.discardUnstarted()
            return
        }
        logger.trace("accepted connection", metadata: ["tern_peer": "\(peer)", "tern_connection_id": "\(id)"])
    }

    /// On the connection's loop, after the handler heard `connectionDidClose`.
    private func connectionDidClose(_ connection: ServerConnection) {
        if !sweepers.isEmpty {
            sweepers[connection.channel.loop.index].remove(connection)
        }
        let removed = state.withLock { $0.connections.removeValue(forKey: connection.id) != nil }
        if removed {
            configuration.connectionLimiter?.release(host: connection.host)
            openConnections.leave()
        }
    }
}
