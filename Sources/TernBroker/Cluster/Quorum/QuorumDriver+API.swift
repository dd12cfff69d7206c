import Dispatch
import Synchronization
import TernRaft

extension QuorumDriver {
    /// Proposes `payloads` as consecutive entries of the metadata log.
    ///
    /// `completion` runs on the driver's queue, after `onApply` has seen the entries: with the
    /// offset of the first one once they are committed in the epoch they were proposed in; or
    /// with `.notLeader` (and a leader hint), `.timedOut` (they may still commit later),
    /// `.leadershipLost` (this node stopped leading first; a later leader may commit or replace
    /// them) or `.unavailable`. A proposal that cannot be replicated (no payloads, an empty one,
    /// one over ``RaftWireLimits/maxEntryBytes``) is refused with `.invalidProposal` at once, on
    /// the calling thread.
    public func propose(
        _ payloads: [[UInt8]], timeout: Duration, completion: @escaping ProposalCompletion
    ) {
        if let problem = Self.proposalProblem(payloads) {
            return completion(.failure(QuorumError(.invalidProposal, problem)))
        }
        let timeoutMs =
            Int64(timeout.components.seconds) * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        queue.async {
            self.step(.propose(payloads), proposal: (self.now() + max(timeoutMs, 0), completion))
        }
    }

    static func proposalProblem(_ payloads: [[UInt8]]) -> String? {
        if payloads.isEmpty { return "no payloads" }
        for (i, payload) in payloads.enumerated() {
            // An empty entry is a leader's control entry; a proposal must not look like one.
            if payload.isEmpty { return "payload \(i) is empty" }
            if payload.count > RaftWireLimits.maxEntryBytes {
                return
                    "payload \(i) is \(payload.count) bytes, above the \(RaftWireLimits.maxEntryBytes) a voter accepts"
            }
        }
        return nil
    }

    /// This voter's view of the quorum now. Any thread.
    public func status() -> QuorumStatus {
        let now = now()
        return core.withLock { core in
            guard let node = core.node else {
                return QuorumStatus(
                    nodeId: configuration.nodeId, role: .unattached, epoch: 0, leaderId: nil, votedFor: nil,
                    highWatermark: 0, logEndOffset: 0,
                    voters: configuration.voters.map { .init(id: $0, endOffset: nil, lastContactAgeMs: nil) },
                    isObserver: configuration.isObserver)
            }
            let progress = node.followerProgress
            let voters = configuration.voters.map { id -> QuorumStatus.Voter in
                if id == configuration.nodeId {
                    return .init(id: id, endOffset: node.durableEnd, lastContactAgeMs: node.role == .leader ? 0 : nil)
                }
                let p = progress.first { $0.id == id }
                return .init(id: id, endOffset: p?.endOffset, lastContactAgeMs: p?.lastFetch.map { max(now - $0, 0) })
            }
            var observers = node.observerProgress.map { p in
                QuorumStatus.Voter(
                    id: p.id, endOffset: p.endOffset, lastContactAgeMs: p.lastFetch.map { max(now - $0, 0) })
            }
            if configuration.isObserver {
                observers = [.init(id: configuration.nodeId, endOffset: node.durableEnd, lastContactAgeMs: nil)]
            }
            return QuorumStatus(
                nodeId: configuration.nodeId, role: node.role, epoch: node.epoch, leaderId: node.leaderId,
                votedFor: node.votedFor, highWatermark: node.highWatermark, logEndOffset: node.logEndOffset,
                voters: voters, isObserver: configuration.isObserver, observers: observers)
        }
    }

    /// Requests the controller listener refused before they reached the core (garbage, another
    /// cluster, a node that is not a voter) plus inputs the core refused.
    public var refusedCount: Int {
        (parts.withLock { $0.handler }?.refusedCount.load(ordering: .relaxed) ?? 0)
            + coreRefusals.load(ordering: .relaxed)
    }
}
