/// DescribeQuorum (key 55): the metadata quorum as the answering node sees it (`tern cluster
/// quorum`, like `kafka-metadata-quorum describe --status --replication`).
///
/// Any node answers with its own view; only the leader knows the other voters' log end offsets
/// and last contact, so a client wanting the replication columns asks the node named in
/// `leaderId` (its client listener is in DescribeCluster).
public struct DescribeQuorumRequest: WireRequest, Hashable {
    public typealias Response = DescribeQuorumResponse
    public static let apiKey = ApiKey.describeQuorum

    public init() {}
    public init(from reader: inout ByteReader) throws {}
    public func encode(into writer: inout ByteWriter) {}
}

public struct DescribeQuorumResponse: WireResponse, Hashable {
    /// One voter of the quorum.
    public struct Voter: Hashable, Sendable {
        public var nodeId: Int32
        /// Its durable log end offset; −1 when the answering node does not know it (not the leader).
        public var logEndOffset: Int64
        /// Milliseconds since it last fetched from the leader (0 for the leader); −1 when unknown.
        public var lastContactAgeMs: Int64

        public init(nodeId: Int32, logEndOffset: Int64, lastContactAgeMs: Int64) {
            self.nodeId = nodeId
            self.logEndOffset = logEndOffset
            self.lastContactAgeMs = lastContactAgeMs
        }
    }

    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// The node that answered.
    public var nodeId: Int32
    /// Its role: `unattached`, `prospective`, `candidate`, `follower`, `leader` or `observer`.
    public var role: String
    /// The leader it knows of in `epoch`; −1 for none.
    public var leaderId: Int32
    public var epoch: Int64
    /// Offset of the first entry not yet committed, as this node knows it.
    public var highWatermark: Int64
    /// This node's log end offset (durable or not).
    public var logEndOffset: Int64
    /// Sorted by node id.
    public var voters: [Voter]
    /// The observers (broker-only nodes that fetch the log without voting), sorted by node id:
    /// on the leader, those that fetched from it lately; on an observer, itself.
    public var observers: [Voter]

    public init(
        errorCode: ErrorCode = .none, errorMessage: String? = nil, nodeId: Int32, role: String, leaderId: Int32,
        epoch: Int64, highWatermark: Int64, logEndOffset: Int64, voters: [Voter], observers: [Voter] = []
    ) {
        self.observers = observers
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.nodeId = nodeId
        self.role = role
        self.leaderId = leaderId
        self.epoch = epoch
        self.highWatermark = highWatermark
        self.logEndOffset = logEndOffset
        self.voters = voters
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        nodeId = try reader.readInt32("nodeId")
        role = try reader.readString("role")
        leaderId = try reader.readInt32("leaderId")
        epoch = try reader.readInt64("epoch")
        highWatermark = try reader.readInt64("highWatermark")
        logEndOffset = try reader.readInt64("logEndOffset")
        // nodeId 4 + logEndOffset 8 + lastContactAgeMs 8.
        voters = try reader.readArray("voters", minElementSize: 20, Self.readVoter)
        observers = try reader.readArray("observers", minElementSize: 20, Self.readVoter)
    }

    static func readVoter(_ reader: inout ByteReader) throws -> Voter {
        Voter(
            nodeId: try reader.readInt32("nodeId"), logEndOffset: try reader.readInt64("logEndOffset"),
            lastContactAgeMs: try reader.readInt64("lastContactAgeMs"))
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.write(nodeId)
        writer.writeString(role)
        writer.write(leaderId)
        writer.write(epoch)
        writer.write(highWatermark)
        writer.write(logEndOffset)
        for list in [voters, observers] {
            writer.writeArray(list) {
                $0.write($1.nodeId)
                $0.write($1.logEndOffset)
                $0.write($1.lastContactAgeMs)
            }
        }
    }
}
