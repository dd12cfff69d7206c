/// ElectLeaders (key 43, Kafka's API with Tern's encoding): asks the active controller to elect a
/// leader for partitions — the preferred (first) replica where it is unfenced and in sync, or
/// (`unclean`) any live replica of a partition left without an in-sync one. Forwarded by any
/// broker to the controller.
public struct ElectLeadersRequest: WireRequest, Hashable {
    public typealias Response = ElectLeadersResponse
    public static let apiKey = ApiKey.electLeaders

    /// Which election to run.
    public struct ElectionType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }
        /// The preferred replica, where it is unfenced and in sync.
        public static let preferred = ElectionType(rawValue: 0)
        /// Any unfenced replica of a partition that has no unfenced in-sync replica (may lose
        /// acknowledged records; `unclean.leader.election.enable` elsewhere).
        public static let unclean = ElectionType(rawValue: 1)
        public var description: String {
            switch self {
            case .preferred: "preferred"
            case .unclean: "unclean"
            default: "election type \(rawValue)"
            }
        }
    }

    public typealias Topic = TopicPartitions<Int32>
    public var electionType: ElectionType
    /// The partitions to elect for; empty: every partition of every topic.
    public var topics: [Topic]
    public var timeoutMs: Int32

    public init(electionType: ElectionType = .preferred, topics: [Topic] = [], timeoutMs: Int32 = 30_000) {
        self.electionType = electionType
        self.topics = topics
        self.timeoutMs = timeoutMs
    }

    public init(from reader: inout ByteReader) throws {
        electionType = ElectionType(rawValue: try reader.readInt8("electionType"))
        topics = try reader.readTopics(minPartitionSize: 4) { try $0.readInt32("partition") }
        timeoutMs = try reader.readInt32("timeoutMs")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(electionType.rawValue)
        writer.writeTopics(topics) { $0.write($1) }
        writer.write(timeoutMs)
    }
}

public struct ElectLeadersResponse: WireResponse, Hashable {
    /// One partition's outcome: NONE (elected), ELECTION_NOT_NEEDED (already led by the replica
    /// asked for), PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE (no replica
    /// can take it), UNKNOWN_TOPIC_OR_PARTITION.
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public init(partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil) {
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }
    public typealias Topic = TopicPartitions<Partition>

    /// For the whole request (CLUSTER_AUTHORIZATION_FAILED, NOT_CONTROLLER, REQUEST_TIMED_OUT, …).
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// Per partition. For a request naming no partitions: those elected and those that could not
    /// be (partitions already led by their preferred replica are left out).
    public var topics: [Topic]

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, topics: [Topic]) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        topics = try reader.readTopics(minPartitionSize: 8) { p in
            Partition(
                partition: try p.readInt32("partition"), errorCode: ErrorCode(rawValue: try p.readInt16("errorCode")),
                errorMessage: try p.readNullableString("errorMessage"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeTopics(topics) { w, p in
            w.write(p.partition)
            w.write(p.errorCode.rawValue)
            w.writeNullableString(p.errorMessage)
        }
    }
}
