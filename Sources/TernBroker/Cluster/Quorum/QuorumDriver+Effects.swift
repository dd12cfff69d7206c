import Logging
import Synchronization
import TernNet
import TernRaft

extension QuorumDriver {
    /// On the queue: performs one step's effects in order. `proposal` is the completion of the
    /// proposal this step was for, if it was one.
    /// `reply`: this step was a request from an observer; its answer goes back through it.
    func perform(
        _ effects: [RaftEffect], now: Tick, proposal: (deadline: Tick, completion: ProposalCompletion)?,
        reply: ObserverReply? = nil
    ) {
        var roleChanged = false
        let clusterId = clusterIdState.withLock { $0 }
        var answer: RaftEnvelope?
        for effect in effects {
            switch effect {
            case .send(let to, let message):
                let envelope = RaftEnvelope(clusterId: clusterId, from: configuration.nodeId, message: message)
                if let link = links[to] {
                    link.send(envelope)
                } else if reply?.to == to, answer == nil {
                    answer = envelope
                }
            // Otherwise an observer this step does not answer: dropped (it fetches again).
            case .persist(let write):
                parts.withLock { $0.writer }?.enqueue(write)
            case .apply(let offset, let entries):
                onApply(offset, entries)
                noteApplied(entries, now: now)
                resolveProposals(appliedFrom: offset, entries)
            case .installSnapshot(let snapshot):
                installSnapshot(snapshot, now: now)
            case .dropLogPrefix(let before):
                dropLogPrefix(before: before)
            case .roleChanged(let role, let epoch, let leader):
                roleChanged = true
                logger.info(
                    "metadata quorum role changed",
                    metadata: [
                        "tern_role": "\(role)", "tern_epoch": "\(epoch)",
                        "tern_leader": "\(leader.map(String.init) ?? "none")",
                    ])
            case .proposed(let epoch, let firstOffset, let count):
                guard let proposal else { continue }
                core.withLock { core in
                    core.pending.append(
                        PendingProposal(
                            epoch: epoch, firstOffset: firstOffset, lastOffset: firstOffset + Int64(count) - 1,
                            deadline: proposal.deadline, completion: proposal.completion))
                }
            case .proposalRejected(let hint):
                proposal?.completion(
                    .failure(
                        QuorumError(
                            .notLeader,
                            "node \(configuration.nodeId) does not lead the metadata quorum; "
                                + (hint.map { "node \($0) does" } ?? "no leader is known"),
                            leaderHint: hint)))
            case .refused(let refusal):
                coreRefusals.add(1, ordering: .relaxed)
                // A stale epoch or a late answer is routine around an election (info); a message
                // no voter should send is not (warning). Both at a rate limit.
                let hostile = refusal.reason.hasPrefix("malformed") || refusal.reason.contains("not another voter")
                warnings.log(
                    logger, level: hostile ? .warning : .info, "metadata quorum input refused",
                    metadata: ["tern_reason": "\(refusal)"])
            }
        }
        reply?.respond(answer)
        if roleChanged { failProposalsIfNotLeading() }
    }

    /// Completes the proposals whose last entry is now committed: success when that entry is
    /// still of the proposal's epoch (one leader per epoch, and a leader only appends, so the
    /// whole proposal is there), leadership lost otherwise.
    private func resolveProposals(appliedFrom offset: Int64, _ entries: [RaftEntry]) {
        let end = offset + Int64(entries.count)
        let done = core.withLock { core -> [(PendingProposal, Bool)] in
            var done: [(PendingProposal, Bool)] = []
            core.pending.removeAll { p in
                guard p.lastOffset < end else { return false }
                let committedEpoch = p.lastOffset >= offset ? entries[Int(p.lastOffset - offset)].epoch : -1
                done.append((p, committedEpoch == p.epoch))
                return true
            }
            return done
        }
        for (p, committed) in done {
            if committed {
                p.completion(.success(p.firstOffset))
            } else {
                p.completion(
                    .failure(
                        QuorumError(
                            .leadershipLost,
                            "offset \(p.lastOffset) was committed from another epoch than the proposal's \(p.epoch)")))
            }
        }
    }

    /// After a role change: a node that no longer leads cannot see its proposals through.
    private func failProposalsIfNotLeading() {
        let (lost, epoch) = core.withLock { core -> ([PendingProposal], Int64) in
            guard let node = core.node, node.role != .leader else { return ([], 0) }
            defer { core.pending = [] }
            return (core.pending, node.epoch)
        }
        for p in lost {
            p.completion(
                .failure(
                    QuorumError(
                        .leadershipLost,
                        "node \(configuration.nodeId) stopped leading epoch \(p.epoch) (now epoch \(epoch)) before "
                            + "offsets \(p.firstOffset)…\(p.lastOffset) committed; a later leader may still commit them"
                    )))
        }
    }

    /// On the queue: fails proposals past their deadline.
    func expireProposals(now: Tick) {
        let expired = core.withLock { core -> [PendingProposal] in
            var expired: [PendingProposal] = []
            core.pending.removeAll { p in
                guard p.deadline <= now else { return false }
                expired.append(p)
                return true
            }
            return expired
        }
        for p in expired {
            p.completion(
                .failure(
                    QuorumError(
                        .timedOut,
                        "offsets \(p.firstOffset)…\(p.lastOffset) of epoch \(p.epoch) not committed in time "
                            + "(is a majority of the voters reachable?)")))
        }
    }
}
