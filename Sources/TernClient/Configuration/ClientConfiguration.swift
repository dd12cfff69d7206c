import Logging

/// Settings of a ``TernClient``: where to find the cluster and how long to wait for it.
public struct ClientConfiguration: Sendable {
    /// Brokers to bootstrap from, as `host:port` strings; the first reachable one is used to learn
    /// the whole cluster.
    public var bootstrap: [String]
    /// Sent in every request header; shows up in broker logs.
    public var clientId: String
    /// How long a request may wait for its response before it fails with `.timedOut` (and the
    /// connection, whose later responses are queued behind it, is closed). Default 30 s.
    public var requestTimeout: Duration
    /// How long a TCP connect may take. Default 10 s.
    public var connectTimeout: Duration
    /// Cluster metadata older than this is refreshed before it is used. Default 5 minutes.
    public var metadataMaxAge: Duration
    /// Largest response frame accepted from a broker. Default 128 MiB.
    public var maxResponseBytes: Int
    /// Where the SDK logs (connections, retries, metadata refreshes). Defaults to a logger that
    /// discards everything: libraries never bootstrap the logging system.
    public var logger: Logger
    /// TLS to the brokers (an `SSL://` listener); nil (the default) speaks plaintext.
    public var tls: ClientTLS?
    /// SASL authentication (`SASL_SSL` with ``tls`` set, `SASL_PLAINTEXT` without); nil (the
    /// default) does not authenticate. Every connection authenticates before its first request;
    /// refused credentials fail with ``TernError/Code-swift.struct/authenticationFailed``.
    public var sasl: ClientSASL?

    /// How connections are opened; tests substitute an in-memory broker.
    var transport: TransportFactory = .ternNet

    /// Creates a configuration.
    public init(
        bootstrap: [String] = ["localhost:9092"],
        clientId: String = "tern-client",
        requestTimeout: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(10),
        metadataMaxAge: Duration = .seconds(300),
        maxResponseBytes: Int = 128 * 1024 * 1024,
        logger: Logger = Logger(label: "tern.client", factory: { _ in SwiftLogNoOpLogHandler() }),
        tls: ClientTLS? = nil
    ) {
        self.tls = tls
        self.bootstrap = bootstrap
        self.clientId = clientId
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.metadataMaxAge = metadataMaxAge
        self.maxResponseBytes = maxResponseBytes
        self.logger = logger
    }
}
