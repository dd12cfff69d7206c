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
    /// The consumer group (`group.id`) that ``TernConsumer/subscribe(topics:onRebalance:)`` joins;
    /// nil for a consumer that only reads assigned partitions. Default nil.
    public var groupId: String?
    /// `group.instance.id`: makes the member static, so a restart within ``sessionTimeout``
    /// keeps its partitions with no reassignment. Default nil.
    public var groupInstanceId: String?
    /// `session.timeout.ms`: a member silent this long is fenced and its partitions reassigned.
    /// Must lie within the broker's `group.min.session.timeout.ms` … `group.max.session.timeout.ms`.
    /// Default 45 s.
    public var sessionTimeout: Duration
    /// How long the member may take to release revoked partitions before it is fenced. Default 60 s.
    public var rebalanceTimeout: Duration
    /// Commit the positions of owned partitions every ``autoCommitInterval``, before partitions
    /// are released, and on ``TernConsumer/close()``. Default true.
    public var enableAutoCommit: Bool
    /// Period of automatic commits. Default 5 s.
    public var autoCommitInterval: Duration
    /// Called (on an internal task; keep it short) when a partition's log turns out to have been
    /// truncated below this consumer's position after a leader change — the new leader's log
    /// diverged from the records fetched (KIP-320 validation, or a Fetch's diverging epoch) — and
    /// the consumer resumed at the diverging offset (or reset, or, with `autoOffsetReset` `.none`,
    /// stopped the partition). Always logged as a warning too. Default nil.
    public var onLogTruncation: (@Sendable (LogTruncation) -> Void)?

    /// Creates a configuration.
    public init(
        fetchMaxWait: Duration = .milliseconds(500),
        fetchMinBytes: Int = 1,
        fetchMaxBytes: Int = 50 * 1024 * 1024,
        maxPartitionFetchBytes: Int = 1024 * 1024,
        autoOffsetReset: OffsetReset = .latest,
        maxPollRecords: Int = 500,
        retryBackoff: Duration = .milliseconds(100),
        groupId: String? = nil,
        groupInstanceId: String? = nil,
        sessionTimeout: Duration = .seconds(45),
        rebalanceTimeout: Duration = .seconds(60),
        enableAutoCommit: Bool = true,
        autoCommitInterval: Duration = .seconds(5)
    ) {
        self.fetchMaxWait = fetchMaxWait
        self.fetchMinBytes = fetchMinBytes
        self.fetchMaxBytes = fetchMaxBytes
        self.maxPartitionFetchBytes = maxPartitionFetchBytes
        self.autoOffsetReset = autoOffsetReset
        self.maxPollRecords = maxPollRecords
        self.retryBackoff = retryBackoff
        self.groupId = groupId
        self.groupInstanceId = groupInstanceId
        self.sessionTimeout = sessionTimeout
        self.rebalanceTimeout = rebalanceTimeout
        self.enableAutoCommit = enableAutoCommit
        self.autoCommitInterval = autoCommitInterval
    }
}
