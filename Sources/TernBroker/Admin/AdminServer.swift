import Logging
import Synchronization
import TernNet

/// The admin HTTP listener (`admin.listeners`): metrics, health and a cluster summary over
/// HTTP/1.1, served on TernNet's Dispatch sockets with ``HTTPRequestFramer`` as the framing, on
/// one event queue of its own so a scrape never waits behind broker traffic.
public final class AdminServer: Sendable {
    private let listeners: [Listener]
    private let broker: Broker
    private let renderMetrics: @Sendable () -> [UInt8]
    private let logger: Logger
    private let servers: Mutex<[Server]> = Mutex([])

    /// Idle admin connections (a scraper's keep-alive) are closed after this long.
    static let idleTimeout = Duration.seconds(60)

    /// - Parameters:
    ///   - listeners: where to bind (`admin.listeners`).
    ///   - renderMetrics: the metrics registry in the Prometheus text format.
    public init(
        listeners: [Listener], broker: Broker, renderMetrics: @escaping @Sendable () -> [UInt8], logger: Logger
    ) {
        self.listeners = listeners
        self.broker = broker
        self.renderMetrics = renderMetrics
        self.logger = logger
    }

    /// Binds every admin listener.
    /// - Throws: `NetError` (for example `addressInUse`) naming the address.
    public func start() throws {
        var started: [Server] = []
        let router = AdminRouter(
            broker: broker, adminListeners: { [weak self] in self?.boundAddresses ?? [] },
            renderMetrics: renderMetrics, logger: logger)
        for listener in listeners {
            var configuration = ServerConfiguration(host: listener.host, port: listener.port)
            configuration.framing = .custom(HTTPRequestFramer())
            configuration.maxFrameBytes = HTTPRequestFramer.maxFrameBytes
            configuration.idleTimeout = Self.idleTimeout
            configuration.eventLoopCount = 1
            configuration.maxInFlightRequests = 16
            configuration.backlog = 128
            let server = Server(configuration: configuration, handler: router, logger: logger)
            do {
                try server.start()
            } catch {
                for s in started { s.shutdown(timeout: .zero) }
                throw error
            }
            started.append(server)
            logger.info("admin listening", metadata: ["listener": "http://\(listener.host):\(server.boundPort)"])
        }
        servers.withLock { $0 = started }
    }

    /// The bound `HOST:PORT` of each admin listener.
    public var boundAddresses: [String] {
        let ports = servers.withLock { $0.map(\.boundPort) }
        return zip(listeners, ports).map { Listener(host: $0.host, port: $1).address }
    }

    /// The ports bound, in `admin.listeners` order.
    public var boundPorts: [Int] { servers.withLock { $0.map(\.boundPort) } }

    /// Open admin connections.
    public var connectionCount: Int { servers.withLock { $0.reduce(0) { $0 + $1.connectionCount } } }

    /// Stops accepting and closes the admin connections once their responses are written.
    public func shutdown(timeout: Duration = .seconds(2)) {
        let servers = servers.withLock { servers in
            defer { servers = [] }
            return servers
        }
        for server in servers { server.shutdown(timeout: timeout) }
    }
}
