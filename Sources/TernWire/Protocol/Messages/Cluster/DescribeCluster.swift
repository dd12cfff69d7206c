/// DescribeCluster (key 60): the cluster id, the active controller and every registered node
/// with its listeners, roles and fencing (`tern cluster info`).
public struct DescribeClusterRequest: WireRequest, Hashable {
    public typealias Response = DescribeClusterResponse
    public static let apiKey = ApiKey.describeCluster

    /// Also list fenced brokers (otherwise only unfenced ones).
    public var includeFencedBrokers: Bool

    public init(includeFencedBrokers: Bool = true) { self.includeFencedBrokers = includeFencedBrokers }

    public init(from reader: inout ByteReader) throws {
        includeFencedBrokers = try reader.readBool("includeFencedBrokers")
    }

    public func encode(into writer: inout ByteWriter) { writer.write(includeFencedBrokers) }
}

public struct DescribeClusterResponse: WireResponse, Hashable {
    /// One registered node.
    public struct Node: Hashable, Sendable {
        public var nodeId: Int32
        public var roles: BrokerRegistrationRecord.Roles
        public var fenced: Bool
        public var listeners: [BrokerRegistrationRecord.Listener]

        public init(
            nodeId: Int32, roles: BrokerRegistrationRecord.Roles, fenced: Bool,
            listeners: [BrokerRegistrationRecord.Listener]
        ) {
            self.nodeId = nodeId
            self.roles = roles
            self.fenced = fenced
            self.listeners = listeners
        }
    }

    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// Null until the first controller has written it.
    public var clusterId: String?
    /// The active controller's node id; −1 while the quorum has no leader.
    public var controllerId: Int32
    /// Sorted by node id.
    public var nodes: [Node]

    public init(
        errorCode: ErrorCode = .none, errorMessage: String? = nil, clusterId: String?, controllerId: Int32,
        nodes: [Node]
    ) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.nodes = nodes
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        clusterId = try reader.readNullableString("clusterId")
        controllerId = try reader.readInt32("controllerId")
        // nodeId 4 + roles 1 + fenced 1 + listener count 4.
        nodes = try reader.readArray("nodes", minElementSize: 10) {
            Node(
                nodeId: try $0.readInt32("nodeId"), roles: try $0.readRoles(), fenced: try $0.readBool("fenced"),
                listeners: try $0.readListeners())
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeNullableString(clusterId)
        writer.write(controllerId)
        writer.writeArray(nodes) {
            $0.write($1.nodeId)
            $0.write($1.roles.rawValue)
            $0.write($1.fenced)
            $0.writeListeners($1.listeners)
        }
    }
}
