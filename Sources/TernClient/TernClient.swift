import Logging
import TernWire

/// A connection to a Tern cluster: bootstrap, cluster metadata, a pool of broker connections, and
/// the factories for ``TernAdmin``, ``TernProducer`` and ``TernConsumer``, which share them.
///
/// ```swift
/// let client = try await TernClient(configuration: .init(bootstrap: ["localhost:9092"]))
/// try await client.admin.createTopic(name: "payments", partitions: 3)
/// ```
public final class TernClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: ClientConfiguration
    /// The software version the bootstrap broker reported in the ApiVersions handshake.
    public let brokerVersion: String
    let pool: ConnectionPool
    let metadata: MetadataCache

    /// Connects to the first reachable bootstrap broker, checks with the ApiVersions handshake that
    /// it speaks every API the SDK uses, and fetches the cluster's metadata.
    /// - Throws: ``TernError``: `.invalidArgument` for a malformed bootstrap entry or TLS files
    ///   that cannot be used (named), `.connectionFailed` naming every address tried and why it
    ///   failed (a failed TLS handshake gives OpenSSL's reason).
    public init(configuration: ClientConfiguration) async throws {
        let addresses = try BrokerAddress.parseList(configuration.bootstrap)
        var configuration = configuration
        // Every connection authenticates before its first request (BrokerConnection.open).
        try configuration.sasl?.validate()
        if let tls = configuration.tls {
            // One context (certificates read once) for every connection of this client.
            configuration.transport = .ternNet(tls: try tls.makeContext())
        }
        let pool = ConnectionPool(configuration: configuration, bootstrap: addresses)
        self.configuration = configuration
        self.pool = pool
        self.metadata = MetadataCache(
            pool: pool, maxAge: configuration.metadataMaxAge, logger: configuration.logger)
        self.brokerVersion = try await Self.handshake(pool: pool)
        do {
            try await metadata.refresh()
        } catch {
            pool.closeAll()
            throw error
        }
    }

    /// Connects to the bootstrap addresses in order until one completes the ApiVersions handshake.
    private static func handshake(pool: ConnectionPool) async throws -> String {
        var failures: [String] = []
        for (node, address) in pool.bootstrap {
            do {
                let connection = try await pool.connection(to: node)
                let versions = try await connection.send(ApiVersionsRequest())
                try checkVersions(versions, peer: "\(address)")
                return versions.brokerVersion
            } catch let error as TernError where error.code == .connectionFailed || error.code == .timedOut {
                failures.append(error.message)
            } catch {
                pool.closeAll()
                throw error
            }
        }
        pool.closeAll()
        let reasons = failures.joined(separator: "; ")
        throw TernError(
            .connectionFailed,
            failures.count == 1 ? reasons : "no bootstrap broker reachable: \(reasons)")
    }

    /// Every API this SDK sends, at version 0.
    static let requiredApis: [ApiKey] = [
        .produce, .fetch, .listOffsets, .metadata, .createTopics, .deleteTopics, .describeConfigs,
    ]

    static func checkVersions(_ response: ApiVersionsResponse, peer: String) throws {
        let offered = Dictionary(response.apis.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let missing = requiredApis.filter { api in
            guard let range = offered[api] else { return true }
            return range.minVersion > 0
        }
        guard missing.isEmpty else {
            throw TernError(
                .broker,
                "broker \(peer) (version \(response.brokerVersion)) does not support "
                    + missing.map(\.name).joined(separator: ", ") + " at version 0",
                brokerError: .unsupportedVersion)
        }
    }

    /// Administrative operations: topics and their configuration.
    public var admin: TernAdmin { TernAdmin(client: self) }

    /// Creates a producer sharing this client's connections and metadata.
    public func producer(configuration: ProducerConfiguration = ProducerConfiguration()) -> TernProducer {
        TernProducer(client: self, configuration: configuration)
    }

    /// Creates a consumer sharing this client's connections and metadata.
    public func consumer(configuration: ConsumerConfiguration = ConsumerConfiguration()) -> TernConsumer {
        TernConsumer(client: self, configuration: configuration)
    }

    /// Why `topic` is not in the metadata: a topic this principal may not describe is left out of
    /// the all-topics listing, so it is asked for by name and the broker's reason
    /// (TOPIC_AUTHORIZATION_FAILED) is returned rather than "does not exist".
    func missingTopicError(_ topic: String, context: String) async -> TernError {
        if let named = try? await metadata.sendToAnyBroker(MetadataRequest(topics: [topic])),
            let entry = named.topics.first(where: { $0.name == topic }), entry.errorCode != .none,
            entry.errorCode != .unknownTopicOrPartition
        {
            return TernError.broker(entry.errorCode, nil, context: context)
        }
        return TernError(.unknownTopic, "\(context): it does not exist", brokerError: .unknownTopicOrPartition)
    }

    /// The number of partitions of `topic`, from the cached metadata (refreshed first when the
    /// topic is not in it or the cache is stale).
    /// - Throws: ``TernError`` `.unknownTopic` when the topic does not exist.
    public func partitionCount(topic: String) async throws -> Int {
        var snapshot = try await metadata.fresh()
        if snapshot.topics[topic] == nil { snapshot = try await metadata.refresh() }
        if let known = snapshot.topics[topic], known.errorCode == .none || !known.partitions.isEmpty {
            return known.partitions.count
        }
        throw await missingTopicError(topic, context: "topic '\(topic)'")
    }

    /// Sends any request to broker `node` and returns its decoded response.
    /// - Throws: ``TernError`` for a top-level error status, a connection failure or a timeout.
    public func send<R: WireRequest>(_ request: R, to node: Int32) async throws -> R.Response {
        try await pool.connection(to: node).send(request)
    }

    /// Sends any request to some reachable broker.
    /// - Throws: ``TernError`` as ``send(_:to:)``.
    public func sendToAnyBroker<R: WireRequest>(_ request: R) async throws -> R.Response {
        try await metadata.sendToAnyBroker(request)
    }

    /// Closes every connection. Producers should be closed first so they can deliver what they
    /// hold; requests still pending fail with `.closed`.
    public func close() async {
        pool.closeAll()
    }

    var logger: Logger { configuration.logger }
}
