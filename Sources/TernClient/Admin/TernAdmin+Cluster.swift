import TernWire

/// The cluster's members as the metadata log records them (`DescribeCluster`).
public struct ClusterMembership: Hashable, Sendable {
    /// One registered node.
    public struct Node: Hashable, Sendable {
        /// One listener the node registered: `name` is `PLAINTEXT` for clients, the controller
        /// listener's name for the quorum.
        public struct Listener: Hashable, Sendable {
            public var name: String
            public var host: String
            public var port: Int
        }
        public var nodeId: Int32
        public var isBroker: Bool
        public var isController: Bool
        /// A fenced broker leads no partition: its heartbeats stopped, or it has not caught up.
        public var fenced: Bool
        public var listeners: [Listener]
    }

    /// Nil until the first controller has written it.
    public var clusterId: String?
    /// The active controller; nil while the quorum has no leader.
    public var controllerId: Int32?
    /// Sorted by node id.
    public var nodes: [Node]
}

/// The metadata quorum as one node sees it (`DescribeQuorum`).
public struct QuorumDescription: Hashable, Sendable {
    /// One voter.
    public struct Voter: Hashable, Sendable {
        public var nodeId: Int32
        /// Known when the answering node is the leader.
        public var logEndOffset: Int64?
        /// Milliseconds since the voter last fetched from the leader; known on the leader only.
        public var lastContactAgeMs: Int64?
    }
    /// The node that answered.
    public var nodeId: Int32
    public var role: String
    public var leaderId: Int32?
    public var epoch: Int64
    public var highWatermark: Int64
    public var logEndOffset: Int64
    public var voters: [Voter]
    /// The observers (broker-only nodes fetching the log without voting), same fields: the
    /// leader lists those that fetched from it lately; an observer lists itself.
    public var observers: [Voter] = []
}

extension TernAdmin {
    /// Every registered node, the cluster id and the active controller.
    /// - Throws: ``TernError`` when no broker can be reached or the broker refuses.
    public func describeClusterMembership() async throws -> ClusterMembership {
        let response = try await client.sendToAnyBroker(DescribeClusterRequest(includeFencedBrokers: true))
        guard response.errorCode == .none else {
            throw TernError.broker(response.errorCode, response.errorMessage, context: "describe cluster")
        }
        return ClusterMembership(
            clusterId: response.clusterId, controllerId: response.controllerId >= 0 ? response.controllerId : nil,
            nodes: response.nodes.map { node in
                ClusterMembership.Node(
                    nodeId: node.nodeId, isBroker: node.roles.contains(.broker),
                    isController: node.roles.contains(.controller), fenced: node.fenced,
                    listeners: node.listeners.map { .init(name: $0.name, host: $0.host, port: Int($0.port)) })
            })
    }

    /// The metadata quorum as the broker this client is connected to sees it; only the leader's
    /// answer has every voter's log end offset and last contact.
    /// - Throws: ``TernError`` when no broker can be reached or the broker refuses.
    public func describeQuorum() async throws -> QuorumDescription {
        let response = try await client.sendToAnyBroker(DescribeQuorumRequest())
        guard response.errorCode == .none else {
            throw TernError.broker(response.errorCode, response.errorMessage, context: "describe quorum")
        }
        return QuorumDescription(
            nodeId: response.nodeId, role: response.role, leaderId: response.leaderId >= 0 ? response.leaderId : nil,
            epoch: response.epoch, highWatermark: response.highWatermark, logEndOffset: response.logEndOffset,
            voters: response.voters.map(Self.voter), observers: response.observers.map(Self.voter))
    }

    private static func voter(_ v: DescribeQuorumResponse.Voter) -> QuorumDescription.Voter {
        .init(
            nodeId: v.nodeId, logEndOffset: v.logEndOffset >= 0 ? v.logEndOffset : nil,
            lastContactAgeMs: v.lastContactAgeMs >= 0 ? v.lastContactAgeMs : nil)
    }
}
