/// How a ``Server`` listens and how much each connection may hold.
public struct ServerConfiguration: Sendable {
    /// The address to bind: `127.0.0.1`, `0.0.0.0`, `::`, `localhost` or another host name
    /// (resolved with `getaddrinfo`; the first address is bound).
    public var host: String
    /// The port; `0` picks an ephemeral port (see ``Server/boundPort``).
    public var port: Int
    /// The largest frame payload accepted (`socket.request.max.bytes`, default 100 MiB). A larger
    /// size prefix (or, with a custom ``framing``, that much input without a frame boundary) is
    /// logged with the peer and closes that connection.
    public var maxFrameBytes: Int
    /// A connection that reads and writes nothing for this long, with no request in flight, is
    /// closed (`connections.max.idle.ms`, default 10 minutes); nil never closes one.
    public var idleTimeout: Duration?
    /// A connection holding part of a request frame for this long while the server reads from it
    /// (a peer that announced a frame, then stalled or trickles it) is closed
    /// (`connections.max.partial.request.ms`, default 30 s, a client's usual request timeout);
    /// time the server stopped reading for backpressure does not count. Nil never closes one.
    public var partialRequestTimeout: Duration? = .seconds(30)
    /// Reading from a connection is suspended while more than this many response bytes wait to
    /// be written (default 4 MiB).
    public var maxPendingResponseBytes: Int
    /// Reading from a connection is suspended while this many of its requests are uncompleted
    /// (default 1024).
    public var maxInFlightRequests: Int
    /// The number of serial queues connections are spread over (default: one per core).
    public var eventLoopCount: Int
    /// The `listen(2)` backlog (default 1024).
    public var backlog: Int32
    /// How requests are delimited (default: the native `size u32 | payload` frames).
    public var framing: Framing = .lengthPrefixed
    /// The process-wide budget of received, unhandled request bytes (`queued.max.request.bytes`),
    /// shared between servers; nil for none.
    public var memoryPool: RequestMemoryPool?
    /// `max.connections` and `max.connections.per.ip`, shared between servers; nil for none.
    public var connectionLimiter: ConnectionLimiter?
    /// TLS for every connection (an `SSL://` listener); nil for plaintext. Each connection takes
    /// the holder's context when it is accepted, so a reload reaches new connections only.
    /// A plaintext native-protocol server closes a connection that opens with a TLS ClientHello,
    /// logging that; a TLS server answers plaintext with a TLS alert and closes.
    public var tls: TLSContextHolder?
    /// A TLS connection whose handshake has not completed this long after it was accepted is
    /// closed (default 10 s), so half-open handshakes do not hold descriptors until the idle timeout.
    public var tlsHandshakeTimeout: Duration = .seconds(10)

    /// Creates a configuration; every limit has the default documented on its property
    /// (`eventLoopCount: nil` means one loop per core).
    public init(
        host: String = "0.0.0.0",
        port: Int = 0,
        maxFrameBytes: Int = 100 * 1024 * 1024,
        idleTimeout: Duration? = .seconds(600),
        maxPendingResponseBytes: Int = 4 * 1024 * 1024,
        maxInFlightRequests: Int = 1024,
        eventLoopCount: Int? = nil,
        backlog: Int32 = 1024
    ) {
        self.host = host
        self.port = port
        self.maxFrameBytes = maxFrameBytes
        self.idleTimeout = idleTimeout
        self.maxPendingResponseBytes = maxPendingResponseBytes
        self.maxInFlightRequests = maxInFlightRequests
        self.eventLoopCount = eventLoopCount ?? EventLoopGroup.coreCount
        self.backlog = backlog
    }
}
