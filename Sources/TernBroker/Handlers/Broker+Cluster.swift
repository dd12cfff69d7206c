import TernRaft
import TernWire

extension Broker {
    /// DescribeCluster: the cluster id, the active controller and every registered node, from
    /// this node's committed metadata image.
    func handleDescribeCluster(_ request: DescribeClusterRequest) -> DescribeClusterResponse {
        let image = cluster.image
        let nodes = image.sortedBrokers.filter { request.includeFencedBrokers || !$0.fenced }.map {
            DescribeClusterResponse.Node(nodeId: $0.nodeId, roles: $0.roles, fenced: $0.fenced, listeners: $0.listeners)
        }
        return DescribeClusterResponse(
            clusterId: image.clusterId, controllerId: cluster.controllerId ?? -1, nodes: nodes)
    }

    /// DescribeQuorum: the metadata quorum as this voter sees it (docs/protocol.md §7.23).
    func handleDescribeQuorum() -> DescribeQuorumResponse {
        let status = cluster.quorumStatus
        let wire = { (v: QuorumStatus.Voter) in
            DescribeQuorumResponse.Voter(
                nodeId: v.id, logEndOffset: v.endOffset ?? -1, lastContactAgeMs: v.lastContactAgeMs ?? -1)
        }
        return DescribeQuorumResponse(
            nodeId: status.nodeId, role: Self.roleName(status), leaderId: status.leaderId ?? -1,
            epoch: status.epoch, highWatermark: status.highWatermark, logEndOffset: status.logEndOffset,
            voters: status.voters.map(wire), observers: status.observers.map(wire))
    }

    /// The node's role in the quorum: `observer` for a broker-only node, else its Raft role.
    static func roleName(_ status: QuorumStatus) -> String {
        status.isObserver ? "observer" : roleName(status.role)
    }

    static func roleName(_ role: RaftRole) -> String {
        switch role {
        case .unattached: "unattached"
        case .prospective: "prospective"
        case .candidate: "candidate"
        case .follower: "follower"
        case .leader: "leader"
        }
    }

    /// Why this node is not ready to serve as part of the cluster, or nil when it is: the quorum
    /// must have a leader (and, for a broker, this broker must be registered and unfenced).
    var clusterProblem: String? {
        let status = cluster.quorumStatus
        guard status.leaderId != nil else {
            return
                "no metadata quorum leader (node \(status.nodeId) is \(Self.roleName(status)) in epoch \(status.epoch))"
        }
        return nil
    }
}
