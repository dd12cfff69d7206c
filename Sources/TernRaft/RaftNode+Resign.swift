/// Graceful resignation (KIP-595's EndQuorumEpoch): a leader about to stop names its preferred
/// successors so the quorum elects one at once instead of waiting out a fetch timeout.
extension RaftNode {
    /// The other voters, most caught-up first (by the offset each last fetched; ties by id).
    var preferredSuccessors: [RaftNodeId] {
        others.sorted {
            let a = progress[$0]?.matchOffset ?? 0
            let b = progress[$1]?.matchOffset ?? 0
            return a != b ? a > b : $0 < $1
        }
    }

    mutating func resign(_ now: Tick) {
        guard role == .leader else {
            refuse(nil, "resign: this node is not the leader (role \(role), epoch \(epoch))")
            return
        }
        let request = EndQuorumEpochRequest(epoch: epoch, preferredSuccessors: preferredSuccessors)
        for id in others { send(id, .endQuorumEpoch(request)) }
        // It keeps its vote in this epoch, so it cannot lead this epoch again; followers that
        // missed the message learn of it from their next fetch's "not leader" answer.
        transition(epoch: epoch, leader: nil, now: now)
    }

    mutating func handleEndQuorumEpoch(from: RaftNodeId, _ r: EndQuorumEpochRequest, now: Tick) {
        if r.epoch < epoch {
            refuse(from, "EndQuorumEpoch for stale epoch \(r.epoch) < \(epoch)")
            return
        }
        if let unknown = r.preferredSuccessors.first(where: { !config.voters.contains($0) }) {
            refuse(from, "EndQuorumEpoch naming node \(unknown), which is not a voter of \(config.voters)")
            return
        }
        if r.epoch == epoch {
            if role == .leader || (leaderId != nil && leaderId != from) {
                refuse(from, "EndQuorumEpoch for epoch \(r.epoch), whose leader is \(leaderId.map(String.init) ?? "?")")
                return
            }
            // Already campaigning in this epoch (or a duplicate): its own timers stand.
            guard role == .follower || role == .unattached else { return }
        }
        transition(epoch: r.epoch, leader: nil, now: now)
        if let position = r.preferredSuccessors.firstIndex(of: config.id) {
            electionDeadline = now + Int64(position) * config.resignBackoffMs
        }
    }
}
