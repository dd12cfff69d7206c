/// Fetch (key 1): reads record batches from partitions, waiting up to `maxWaitMs` until at least
/// `minBytes` are available.
///
/// Version 1 adds fetch sessions (as Kafka's KIP-227): a consumer that fetches the same partitions
/// over and over opens a session with a full request, then sends only the partitions whose fetch
/// offset or byte limit changed (and those it stops fetching, in `forgottenTopics`); the broker
/// answers only partitions with records, an error, or a changed high watermark or log start offset.
///
/// Version 2 adds leader epochs: each partition carries the sender's current leader epoch
/// (KIP-320: the broker answers FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH when it is not the
/// partition's) and the epoch of the last batch the sender fetched (KIP-595: a leader whose log
/// diverges from the follower's before the fetch offset answers with the diverging epoch and its
/// end offset instead of records).
///
/// Version 3 adds each partition's `durableOffset` for a follower's fetch (`replicaId` ≥ 0): what
/// the follower has fsynced, which the leader counts for the high watermark (Tern's promise: the
/// high watermark is the minimum *durable* offset over the in-sync set). Consumers send -1.
public struct FetchRequest: WireRequest, Hashable {
    public typealias Response = FetchResponse
    public static let apiKey = ApiKey.fetch
    public static let apiVersion: UInt16 = 3

    /// `sessionEpoch` of a request that opens a session (with `sessionId` 0) or replaces one.
    public static let initialEpoch: Int32 = 0
    /// `sessionEpoch` of a request without a session (with `sessionId` 0) or closing one.
    public static let finalEpoch: Int32 = -1

    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var fetchOffset: Int64
        /// Most bytes to return for this partition (at least one whole batch is always returned).
        public var maxBytes: Int32
        /// v2: the leader epoch the sender believes current; -1 (and before v2) skips the check.
        public var currentLeaderEpoch: Int32
        /// v2: the epoch of the last batch the sender holds before `fetchOffset` (followers);
        /// -1 (and before v2) asks for no divergence check.
        public var lastFetchedEpoch: Int32
        /// v3: a follower's fsynced log end (at most `fetchOffset`); -1 (and before v3): unknown.
        public var durableOffset: Int64
        public init(
            partition: Int32, fetchOffset: Int64, maxBytes: Int32, currentLeaderEpoch: Int32 = -1,
            lastFetchedEpoch: Int32 = -1, durableOffset: Int64 = -1
        ) {
            self.partition = partition
            self.fetchOffset = fetchOffset
            self.maxBytes = maxBytes
            self.currentLeaderEpoch = currentLeaderEpoch
            self.lastFetchedEpoch = lastFetchedEpoch
            self.durableOffset = durableOffset
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    /// Partitions an incremental request removes from its session.
    public typealias ForgottenTopic = TopicPartitions<Int32>
    /// The version the request is encoded at: 0 (no sessions), 1 (sessions), 2 (leader epochs) or
    /// 3 (followers' durable offsets).
    public var version: UInt16
    /// -1 for consumers; a broker id for replicas.
    public var replicaId: Int32
    public var maxWaitMs: Int32
    public var minBytes: Int32
    /// Most bytes for the whole response.
    public var maxBytes: Int32
    /// v1: the session (0: none, or ask for one with ``initialEpoch``).
    public var sessionId: Int32
    /// v1: ``initialEpoch``, ``finalEpoch``, or the session's next epoch (1, 2, …) for an
    /// incremental request.
    public var sessionEpoch: Int32
    /// Partitions to fetch; in an incremental request, only those added or changed.
    public var topics: [Topic]
    /// v1: partitions an incremental request drops from its session.
    public var forgottenTopics: [ForgottenTopic]

    public init(
        replicaId: Int32 = -1, maxWaitMs: Int32, minBytes: Int32, maxBytes: Int32, topics: [Topic],
        sessionId: Int32 = 0, sessionEpoch: Int32 = FetchRequest.finalEpoch, forgottenTopics: [ForgottenTopic] = [],
        version: UInt16 = FetchRequest.apiVersion
    ) {
        self.version = version
        self.replicaId = replicaId
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.sessionId = sessionId
        self.sessionEpoch = sessionEpoch
        self.topics = topics
        self.forgottenTopics = forgottenTopics
    }

    /// Whether this is a full request (every partition listed), not an incremental one.
    public var isFull: Bool { sessionEpoch == Self.initialEpoch || sessionEpoch == Self.finalEpoch }

    public init(from reader: inout ByteReader) throws { try self.init(from: &reader, version: 0) }

    public init(from reader: inout ByteReader, version: UInt16) throws {
        self.version = version
        replicaId = try reader.readInt32("replicaId")
        maxWaitMs = try reader.readInt32("maxWaitMs")
        minBytes = try reader.readInt32("minBytes")
        maxBytes = try reader.readInt32("maxBytes")
        if version >= 1 {
            sessionId = try reader.readInt32("sessionId")
            sessionEpoch = try reader.readInt32("sessionEpoch")
        } else {
            sessionId = 0
            sessionEpoch = Self.finalEpoch
        }
        topics = try reader.readTopics(minPartitionSize: version >= 3 ? 32 : version >= 2 ? 24 : 16) { p in
            var partition = Partition(
                partition: try p.readInt32(), fetchOffset: try p.readInt64("fetchOffset"),
                maxBytes: try p.readInt32("partitionMaxBytes"))
            if version >= 2 {
                partition.currentLeaderEpoch = try p.readInt32("currentLeaderEpoch")
                partition.lastFetchedEpoch = try p.readInt32("lastFetchedEpoch")
            }
            if version >= 3 { partition.durableOffset = try p.readInt64("durableOffset") }
            return partition
        }
        forgottenTopics = version >= 1 ? try reader.readTopics(minPartitionSize: 4) { try $0.readInt32() } : []
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(replicaId)
        writer.write(maxWaitMs)
        writer.write(minBytes)
        writer.write(maxBytes)
        if version >= 1 {
            writer.write(sessionId)
            writer.write(sessionEpoch)
        }
        let epochs = version >= 2
        let durable = version >= 3
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.fetchOffset)
            w.write(p.maxBytes)
            if epochs {
                w.write(p.currentLeaderEpoch)
                w.write(p.lastFetchedEpoch)
            }
            if durable { w.write(p.durableOffset) }
        }
        if version >= 1 { writer.writeTopics(forgottenTopics) { w, p in w.write(p) } }
    }
}

public struct FetchResponse: WireResponse, Hashable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var highWatermark: Int64
        public var logStartOffset: Int64
        /// v2: when the sender's log diverges from the leader's (its `lastFetchedEpoch` ends
        /// before its fetch offset here, or is unknown), the largest epoch at or below it and
        /// where that epoch ends: the sender truncates there (KIP-595) and no records come.
        /// -1 and -1 otherwise (and before v2).
        public var divergingEpoch: Int32
        public var divergingEndOffset: Int64
        /// Whole record batches (the last may be cut short by the byte limit; readers skip it).
        public var records: [UInt8]
        public init(
            partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil, highWatermark: Int64 = -1,
            logStartOffset: Int64 = -1, divergingEpoch: Int32 = -1, divergingEndOffset: Int64 = -1,
            records: [UInt8] = []
        ) {
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.highWatermark = highWatermark
            self.logStartOffset = logStartOffset
            self.divergingEpoch = divergingEpoch
            self.divergingEndOffset = divergingEndOffset
            self.records = records
        }
    }
    public typealias Topic = TopicPartitions<Partition>
    /// v1: the fetch session (0: none). An incremental response lists only partitions with
    /// records, an error, or a changed high watermark or log start offset.
    public var sessionId: Int32
    public var topics: [Topic]

    public init(topics: [Topic], sessionId: Int32 = 0) {
        self.topics = topics
        self.sessionId = sessionId
    }

    public init(from reader: inout ByteReader) throws { try self.init(from: &reader, version: 0) }

    /// Decodes a response to a request of `version` (v1 starts with the session id; v2 adds the
    /// diverging epoch to each partition).
    public init(from reader: inout ByteReader, version: UInt16) throws {
        sessionId = version >= 1 ? try reader.readInt32("sessionId") : 0
        topics = try reader.readTopics(minPartitionSize: version >= 2 ? 40 : 28) { p in
            let partition = try p.readInt32()
            let code = ErrorCode(rawValue: try p.readInt16())
            let message = try p.readNullableString()
            let highWatermark = try p.readInt64("highWatermark")
            let logStartOffset = try p.readInt64("logStartOffset")
            var divergingEpoch: Int32 = -1
            var divergingEndOffset: Int64 = -1
            if version >= 2 {
                divergingEpoch = try p.readInt32("divergingEpoch")
                divergingEndOffset = try p.readInt64("divergingEndOffset")
            }
            let length = try p.readInt32("records length")
            guard length >= 0 else { throw WireError(.malformed, "records: length \(length)") }
            return Partition(
                partition: partition, errorCode: code, errorMessage: message, highWatermark: highWatermark,
                logStartOffset: logStartOffset, divergingEpoch: divergingEpoch, divergingEndOffset: divergingEndOffset,
                records: try p.readBytes(count: Int(length), "records"))
        }
    }

    /// Encodes the v0 body (tests and tools; the broker encodes with ``writeSessionHeader(_:version:sessionId:)``).
    public func encode(into writer: inout ByteWriter) { encode(into: &writer, version: 0) }

    /// Encodes the body of `version`.
    public func encode(into writer: inout ByteWriter, version: UInt16) {
        Self.writeSessionHeader(&writer, version: version, sessionId: sessionId)
        writer.writeArray(topics) { w, t in
            Self.writeTopicHeader(&w, name: t.name, partitionCount: t.partitions.count)
            for p in t.partitions {
                Self.writePartitionHeader(&w, p, recordsLength: p.records.count, version: version)
                w.write(contentsOf: p.records)
            }
        }
    }

    /// Writes what precedes the topics in `version` (v1: the session id).
    public static func writeSessionHeader(_ writer: inout ByteWriter, version: UInt16, sessionId: Int32) {
        if version >= 1 { writer.write(sessionId) }
    }

    /// Writes a topic's name and partition count; its partitions follow.
    /// For encoders that send record bytes from files (see ``writePartitionHeader(_:_:recordsLength:)``).
    public static func writeTopicHeader(_ writer: inout ByteWriter, name: String, partitionCount: Int) {
        writer.writeString(name)
        writer.write(UInt32(partitionCount))
    }

    /// Writes everything of a partition up to and including the records length, as `version`
    /// lays it out; exactly `recordsLength` bytes of record batches must follow.
    /// `partition.records` is ignored.
    public static func writePartitionHeader(
        _ writer: inout ByteWriter, _ partition: Partition, recordsLength: Int, version: UInt16 = 0
    ) {
        writer.write(partition.partition)
        writer.write(partition.errorCode.rawValue)
        writer.writeNullableString(partition.errorMessage)
        writer.write(partition.highWatermark)
        writer.write(partition.logStartOffset)
        if version >= 2 {
            writer.write(partition.divergingEpoch)
            writer.write(partition.divergingEndOffset)
        }
        writer.write(Int32(recordsLength))
    }
}
