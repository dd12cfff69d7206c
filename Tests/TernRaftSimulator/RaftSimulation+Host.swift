import TernRaft

/// What the simulated hosts do with their nodes' effects (disk, network, state machine,
/// snapshots), and the invariants checked after every step.
extension RaftSimulation {
    // MARK: Disk

    mutating func completeDiskWrites(_ id: RaftNodeId) {
        guard var n = nodes[id], n.raft != nil else { return }
        var lastSeq: UInt64?
        while let first = n.disk.pending.first, first.dueAt <= now {
            n.disk.pending.removeFirst()
            let w = first.write
            let old = n.disk
            if let problem = n.disk.perform(w) {
                fail("node \(id) \(problem)")
                return
            }
            // A committed entry, once on a disk, stays there unless its snapshot covers it.
            let covered = n.disk.snapshot?.endOffset ?? 0
            let top = min(old.logEnd, Int64(committed.count))
            var o = max(w.fromOffset, old.logStart, covered)
            while o < top {
                if old.entry(at: o) == committed[Int(o)] && n.disk.entry(at: o) != committed[Int(o)] {
                    fail("node \(id) write \(w.seq) removes or changes committed entry \(o) from its disk")
                }
                o += 1
            }
            lastSeq = w.seq
        }
        nodes[id] = n
        if let seq = lastSeq { feed(id, .persisted(seq: seq)) }
    }

    // MARK: Host

    /// Steps node `id` with `input` and performs its effects; returns them.
    @discardableResult
    public mutating func feed(_ id: RaftNodeId, _ input: RaftInput) -> [RaftEffect] {
        guard var n = nodes[id], var raft = n.raft else { return [] }
        let effects = raft.step(input, now: now)
        n.raft = raft
        let observer = !voterIds.contains(id)
        for effect in effects {
            switch effect {
            case .send(let to, let m):
                if observer {
                    switch m {
                    case .fetch, .fetchSnapshot: break
                    default: fail("observer \(id) sends a \(m.kindName) to \(to): it may only fetch")
                    }
                } else if !voterIds.contains(to) {
                    switch m {
                    case .fetchResponse, .fetchSnapshotResponse: break
                    default:
                        fail("voter \(id) sends a \(m.kindName) to observer \(to): only fetch answers go to observers")
                    }
                }
                send(from: id, to: to, m)
            case .persist(let w):
                let last = n.disk.pending.last?.dueAt ?? now
                n.disk.pending.append((max(last, now + Int64(random.int(1...options.maxDiskLatencyMs))), w))
            case .apply(let offset, let entries):
                apply(offset, entries, on: id, &n, epoch: raft.epoch)
            case .installSnapshot(let s):
                stats.installs += 1
                note("node \(id) installs \(s.id)")
                if (n.disk.snapshot?.endOffset ?? 0) < s.endOffset {
                    fail("node \(id) installs \(s.id) before it is durable")
                }
                if s.endOffset <= n.appliedCount {
                    fail("node \(id) installs \(s.id) after applying \(n.appliedCount) entries")
                }
                if let state = checkSnapshot(s, on: id, "installed") { n.state = state }
                n.appliedCount = s.endOffset
                n.snapshotEnd = s.endOffset
            case .dropLogPrefix(let before):
                if let problem = n.disk.dropPrefix(before: before) { fail("node \(id): \(problem)") }
            case .roleChanged(let role, let epoch, _):
                note("node \(id) -> \(role) epoch \(epoch)")
                if observer && role != .follower && role != .unattached {
                    fail("observer \(id) becomes \(role) in epoch \(epoch)")
                }
                if role == .leader { checkNewLeader(id, raft, epoch: epoch) }
            case .refused:
                stats.refusals += 1
            case .proposed, .proposalRejected:
                break
            }
        }
        nodes[id] = n
        maybeSnapshot(id)
        return effects
    }

    mutating func apply(_ offset: Int64, _ entries: [RaftEntry], on id: RaftNodeId, _ n: inout Node, epoch: Int64) {
        if offset != n.appliedCount {
            fail("node \(id) applies from \(offset) but has applied \(n.appliedCount) entries")
        }
        for (i, e) in entries.enumerated() {
            let o = Int(offset) + i
            if o < committed.count {
                if committed[o] != e {
                    fail("node \(id) applies \(e) at \(o), but \(committed[o]) was committed there")
                }
            } else if o == committed.count && !voterIds.contains(id) {
                fail("observer \(id) applies \(e) at \(o) before any leader committed it")
            } else if o == committed.count {
                // The first node to apply an entry is the leader that committed it (a follower
                // learns of a commit from the leader): its epoch is the entry's commit epoch.
                committed.append(e)
                committedEpoch.append(epoch)
            } else {
                fail("node \(id) applies offset \(o) past the committed log end \(committed.count)")
            }
            n.state.apply(e)
            // Every host's state machine at the same applied offset is the same, whether it got
            // there by applying entries or from a snapshot.
            let key = Int64(o + 1)
            if let known = states[key] {
                if known != n.state { fail("node \(id) state after \(key) entries differs from another node's") }
            } else {
                states[key] = n.state
            }
        }
        n.appliedCount = offset + Int64(entries.count)
    }

    /// The host snapshots its state machine every `snapshotEvery` applied entries.
    mutating func maybeSnapshot(_ id: RaftNodeId) {
        guard options.snapshotEvery > 0, let n = nodes[id], n.raft != nil,
            n.appliedCount - n.snapshotEnd >= Int64(options.snapshotEvery), n.appliedCount <= committed.count
        else { return }
        let end = n.appliedCount
        nodes[id]?.snapshotEnd = end
        stats.snapshots += 1
        let s = RaftSnapshot(endOffset: end, lastEpoch: committed[Int(end) - 1].epoch, data: n.state.bytes)
        let effects = feed(id, .snapshotTaken(s))
        // Taken at the applied offset and above the last one: the node has no reason to refuse
        // it unless a snapshot fetched from the leader is still being written.
        if case .refused(let r) = effects.first, nodes[id]?.raft.map({ $0.appliedOffset >= $0.logStartOffset }) == true
        {
            fail("node \(id) refuses \(s.id) taken at its applied offset: \(r)")
        }
    }

    /// Checks a snapshot a node loads or installs against the committed log and the states other
    /// hosts reached; returns its state.
    mutating func checkSnapshot(_ s: RaftSnapshot, on id: RaftNodeId, _ how: String) -> SimStateMachine? {
        guard s.endOffset >= 1, s.endOffset <= committed.count, committed[Int(s.endOffset) - 1].epoch == s.lastEpoch
        else {
            fail("node \(id) \(how) \(s.id), which holds entries never committed (committed: \(committed.count))")
            return nil
        }
        guard let state = SimStateMachine(bytes: s.data), state.count == s.endOffset else {
            fail("node \(id) \(how) \(s.id) whose bytes are not a state of \(s.endOffset) entries")
            return nil
        }
        if let known = states[s.endOffset], known != state {
            fail("node \(id) \(how) \(s.id) whose state differs from the state other nodes applied")
        }
        return state
    }

    /// Leader completeness: a leader of epoch E holds every entry committed in an epoch before E
    /// (in its log or its snapshot). A candidate paused in an old epoch may still win it after
    /// later epochs committed more: those it need not hold.
    mutating func checkNewLeader(_ id: RaftNodeId, _ raft: RaftNode, epoch: Int64) {
        stats.elections += 1
        if let other = leaders[epoch], other != id {
            fail("two leaders in epoch \(epoch): \(other) and \(id)")
        }
        leaders[epoch] = id
        let required = Int64(committedEpoch.firstIndex { $0 >= epoch } ?? committedEpoch.count)
        var ok = raft.logEndOffset >= required
        var o = raft.logStartOffset
        while ok && o < required {
            ok = raft.entry(at: o) == committed[Int(o)]
            o += 1
        }
        if !ok {
            fail(
                "leader \(id) of epoch \(epoch) lacks entries committed before it (log end \(raft.logEndOffset), "
                    + "committed before epoch \(epoch): \(required))")
        }
    }

    // MARK: Invariants

    mutating func checkAfterStep() {
        for id in ids {
            guard var n = nodes[id], let raft = n.raft else { continue }
            let hw = raft.highWatermark
            if hw < n.lastHighWatermark {
                fail("node \(id) high watermark went back from \(n.lastHighWatermark) to \(hw)")
            }
            if hw > raft.logEndOffset {
                fail("node \(id) high watermark \(hw) beyond its log end \(raft.logEndOffset)")
            }
            if raft.logStartOffset > hw {
                fail("node \(id) log start \(raft.logStartOffset) passes its high watermark \(hw)")
            }
            if raft.durableEnd > n.disk.logEnd {
                fail("node \(id) believes \(raft.durableEnd) entries durable; its disk holds \(n.disk.logEnd)")
            }
            if let s = raft.snapshot,
                s.endOffset > committed.count || committed[Int(s.endOffset) - 1].epoch != s.lastEpoch
            {
                fail("node \(id) holds \(s.id), which covers entries not committed (\(committed.count))")
            }
            if hw > n.lastHighWatermark && raft.role == .leader {
                checkMajorityHolds(hw, leader: id, raft)
            }
            if hw > n.lastHighWatermark {
                // The newly committed part of this node's log is the global committed log.
                var o = max(n.lastHighWatermark, raft.logStartOffset)
                while o < hw && o < committed.count {
                    if let e = raft.entry(at: o), e != committed[Int(o)] {
                        fail("node \(id) commits \(e) at \(o), but \(committed[Int(o)]) was committed there")
                    }
                    o += 1
                }
            }
            n.lastHighWatermark = hw
            nodes[id] = n
        }
    }
}

extension RaftSimulation {
    /// A leader's new high watermark is durable on a majority of the *voters* (observers never
    /// count): each holds the entry below it on its disk, or a snapshot covering it.
    mutating func checkMajorityHolds(_ hw: Int64, leader: RaftNodeId, _ raft: RaftNode) {
        guard let last = raft.entry(at: hw - 1) else { return }  // inside its snapshot: committed before
        var holders: [RaftNodeId] = []
        for v in voterIds {
            guard let disk = nodes[v]?.disk else { continue }
            if disk.entry(at: hw - 1) == last || (disk.snapshot?.endOffset ?? 0) >= hw { holders.append(v) }
        }
        if holders.count < voterIds.count / 2 + 1 {
            fail(
                "leader \(leader) commits up to \(hw), but only voters \(holders) of \(voterIds) hold entry \(hw - 1) "
                    + "durably")
        }
    }
}
