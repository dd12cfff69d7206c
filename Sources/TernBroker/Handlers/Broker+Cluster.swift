import Dispatch
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

    /// DescribeQuorum: the metadata quorum as this node sees it (docs/protocol.md §7.24).
    func handleDescribeQuorum() -> DescribeQuorumResponse {
        cluster.quorumStatus.describeQuorumResponse
    }

    /// DescribeQuorum on a client listener: this node's view, except when the leader is a
    /// controller-only node (not a registered broker, so no client can reach it): then the
    /// leader's own view, asked on its controller listener (only the leader knows every voter's
    /// and observer's progress); this node's view if the leader does not answer.
    func handleDescribeQuorum(_ context: RequestContext) {
        let local = handleDescribeQuorum()
        guard let leader = cluster.controllerId, leader != config.nodeId, cluster.image.broker(leader) == nil,
            let lifecycle = cluster.lifecycle
        else { return context.respond(local) }
        // Off the network thread (and off the serial admin queue): the channel's connect blocks
        // up to its timeout.
        DispatchQueue.global().async {
            lifecycle.ask(DescribeQuorumRequest(), controller: leader) { result in
                if case .success(let answer) = result, answer.errorCode == .none, answer.nodeId == leader {
                    context.respond(answer)
                } else {
                    context.respond(local)
                }
            }
        }
    }

    /// The node's role in the quorum: `observer` for a broker-only node, else its Raft role.
    static func roleName(_ status: QuorumStatus) -> String { status.roleName }

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

extension QuorumStatus {
    /// The role DescribeQuorum and `/v1/cluster` name: `observer` for a broker-only node, else
    /// its Raft role.
    var roleName: String { isObserver ? "observer" : Broker.roleName(role) }

    /// DescribeQuorum's answer for this view (docs/protocol.md §7.24).
    var describeQuorumResponse: DescribeQuorumResponse {
        let wire = { (v: Voter) in
            DescribeQuorumResponse.Voter(
                nodeId: v.id, logEndOffset: v.endOffset ?? -1, lastContactAgeMs: v.lastContactAgeMs ?? -1)
        }
        return DescribeQuorumResponse(
            nodeId: nodeId, role: roleName, leaderId: leaderId ?? -1, epoch: epoch, highWatermark: highWatermark,
            logEndOffset: logEndOffset, voters: voters.map(wire), observers: observers.map(wire))
    }
}
