import TernWire

/// Settings of a ``TernProducer``.
public struct ProducerConfiguration: Sendable {
    /// How many acknowledgements the leader waits for before it answers a produce request.
    public struct Acks: Hashable, Sendable, CustomStringConvertible {
        /// The protocol value: 0, 1 or -1.
        public var rawValue: Int16
        private init(_ rawValue: Int16) { self.rawValue = rawValue }

        /// acks=0: no response; records count as delivered once written to the socket (offset -1).
        public static let none = Acks(0)
        /// acks=1: answered once the leader has appended the records.
        public static let leader = Acks(1)
        /// acks=all (-1): answered once every in-sync replica has them and the leader has fsynced.
        public static let all = Acks(-1)

        public var description: String { rawValue == -1 ? "all" : "\(rawValue)" }
    }

    /// Durability asked of the broker. Default `.all`.
    public var acks: Acks
    /// Most bytes in one record batch (one partition). A record larger than this gets a batch of
    /// its own. Default 16 KiB, Kafka's default: several ready batches of one partition travel in
    /// the same request, so a larger value mostly saves per-batch overhead (measured: 64 KiB was
    /// 10-20% faster for one bulk stream of 1,000,000 short records, which is why `tern produce`
    /// uses it) at the cost of memory per partition.
    public var batchSize: Int
    /// How long a batch that is not full waits for more records before it is sent. Default 5 ms.
    public var linger: Duration
    /// Most produce requests outstanding on one broker connection. Default 5. Order within a
    /// partition is kept regardless: each partition has at most one request in flight (its
    /// queued batches travel together in the next one), so a retry can never overtake later
    /// records of the same partition.
    public var maxInFlightRequestsPerConnection: Int
    /// How many times a batch is retried after a retriable error (connection failure, timeout,
    /// `NOT_LEADER_OR_FOLLOWER`, …). Default unlimited: ``deliveryTimeout`` bounds retrying.
    public var retries: Int
    /// Wait before a failed batch is retried (after a metadata refresh). Default 100 ms.
    public var retryBackoff: Duration
    /// Upper bound on the time from `send` until a record is acknowledged or failed, retries
    /// included. Default 120 s.
    public var deliveryTimeout: Duration
    /// How long the broker may take to gather the acknowledgements `acks` asks for, sent in each
    /// produce request; the connection waits at least this long for the response. Default 30 s.
    public var requestTimeout: Duration
    /// Most bytes of record batches in one produce request. Default 1 MiB.
    public var maxRequestSize: Int
    /// Bytes of records the producer may hold before ``TernProducer/waitForCapacity()`` and the
    /// async `send` make callers wait. Default 32 MiB.
    public var bufferMemory: Int
    /// How long records for a topic that is not in the metadata are held while the metadata is
    /// refreshed, before they fail with `.unknownTopic`. Default 5 s.
    public var metadataWait: Duration
    /// Codec for record batches (`compression.type`): `.none` or `.gzip`. The broker stores
    /// compressed batches as they come; consumers decompress transparently.
    public var compression: CompressionCodec
    /// The idempotent producer (`enable.idempotence`). Default true, as in Kafka 3: the producer
    /// gets a producer id (InitProducerId) before its first batch and numbers each partition's
    /// batches, so a retry of a batch the broker already stored (its answer was lost) is answered
    /// with the original offsets instead of being stored twice; at most 5 batches of a partition
    /// are unacknowledged at a time. Ignored with acks=0 (no answers to retry on). Conditional
    /// sends are never numbered (their append id guards their retries).
    public var enableIdempotence: Bool

    /// Whether batches are numbered: idempotence on and acks not 0.
    var isIdempotent: Bool { enableIdempotence && acks != .none }

    /// Creates a configuration.
    public init(
        acks: Acks = .all,
        batchSize: Int = 16 * 1024,
        linger: Duration = .milliseconds(5),
        maxInFlightRequestsPerConnection: Int = 5,
        retries: Int = .max,
        retryBackoff: Duration = .milliseconds(100),
        deliveryTimeout: Duration = .seconds(120),
        requestTimeout: Duration = .seconds(30),
        maxRequestSize: Int = 1024 * 1024,
        bufferMemory: Int = 32 * 1024 * 1024,
        metadataWait: Duration = .seconds(5),
        compression: CompressionCodec = .none,
        enableIdempotence: Bool = true
    ) {
        self.enableIdempotence = enableIdempotence
        precondition(compression == .none || compression == .gzip, "compression must be .none or .gzip")
        self.compression = compression
        self.acks = acks
        self.batchSize = batchSize
        self.linger = linger
        self.maxInFlightRequestsPerConnection = maxInFlightRequestsPerConnection
        self.retries = retries
        self.retryBackoff = retryBackoff
        self.deliveryTimeout = deliveryTimeout
        self.requestTimeout = requestTimeout
        self.maxRequestSize = maxRequestSize
        self.bufferMemory = bufferMemory
        self.metadataWait = metadataWait
    }
}
