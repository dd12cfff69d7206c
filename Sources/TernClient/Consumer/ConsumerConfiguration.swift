/// Settings of a ``TernConsumer``.
public struct ConsumerConfiguration: Sendable {
    /// Where a partition without a valid position starts.
    public struct OffsetReset: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// At the log start offset: everything still stored.
        public static let earliest = OffsetReset("earliest")
        /// At the log end offset: only records produced from now on.
        public static let latest = OffsetReset("latest")
        /// Nowhere: `poll` throws `.offsetOutOfRange` instead.
        public static let none = OffsetReset("none")

        public var description: String { raw }
    }

    /// How long the broker may hold a fetch open waiting for ``fetchMinBytes``. Default 500 ms.
    public var fetchMaxWait: Duration
    /// Bytes the broker waits for before it answers a fetch early. Default 1.
    public var fetchMinBytes: Int
    /// Most bytes in one fetch response; also the most fetched bytes buffered before fetching
    /// pauses until the application catches up. Default 50 MiB.
    public var fetchMaxBytes: Int
    /// Most bytes per partition in one fetch response (at least one whole batch is always
    /// returned). Default 1 MiB.
    public var maxPartitionFetchBytes: Int
    /// Where to start when a partition has no position yet, or its position is out of range.
    /// Default `.latest`.
    public var autoOffsetReset: OffsetReset
    /// Most records one `poll` returns. Default 500.
    public var maxPollRecords: Int
    /// Wait before fetching again from a broker after an error. Default 100 ms.
    public var retryBackoff: Duration

    /// Creates a configuration.
    public init(
        fetchMaxWait: Duration = .milliseconds(500),
        fetchMinBytes: Int = 1,
        fetchMaxBytes: Int = 50 * 1024 * 1024,
        maxPartitionFetchBytes: Int = 1024 * 1024,
        autoOffsetReset: OffsetReset = .latest,
        maxPollRecords: Int = 500,
        retryBackoff: Duration = .milliseconds(100)
    ) {
        self.fetchMaxWait = fetchMaxWait
        self.fetchMinBytes = fetchMinBytes
        self.fetchMaxBytes = fetchMaxBytes
        self.maxPartitionFetchBytes = maxPartitionFetchBytes
        self.autoOffsetReset = autoOffsetReset
        self.maxPollRecords = maxPollRecords
        self.retryBackoff = retryBackoff
    }
}
