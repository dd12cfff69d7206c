import TernBroker
import TernRaft
import TernRaftSimulator

/// The invariants, checked after every step, at every acknowledgement and leader change, and
/// after healing.
extension ReplicationSimulation {
    /// No two leaders (or two runs of one broker) append in one leader epoch.
    mutating func checkSingleWriter(_ p: Int32, epoch: Int32, broker: Int32, incarnation: UInt64) {
        if let w = writerOfEpoch[p]?[epoch], w.broker != broker || w.incarnation != incarnation {
            fail(
                "p\(p): broker \(broker) (incarnation \(incarnation)) appends in leader epoch \(epoch), where broker "
                    + "\(w.broker) (incarnation \(w.incarnation)) appended")
        }
        writerOfEpoch[p, default: [:]][epoch] = (broker, incarnation)
    }

    /// An `acks=all` acknowledgement: the offsets must never hold anything else.
    mutating func acknowledge(_ p: Int32, base: Int64, _ records: [SimRecord], by id: Int32) {
        let seen = visible[p] ?? []
        for (i, r) in records.enumerated() {
            let o = base + Int64(i)
            if let a = acked[p]?[o], a != r { fail("p\(p): broker \(id) acknowledges \(r) at \(o), where \(a) was") }
            if o < seen.count && seen[Int(o)] != r {
                fail("p\(p): broker \(id) acknowledges \(r) at \(o), where consumers saw \(seen[Int(o)])")
            }
            acked[p, default: [:]][o] = r
        }
    }

    /// A new leader of epoch E holds every record acknowledged in an epoch before E.
    mutating func checkNewLeader(_ id: Int32, _ p: Int32, _ replica: PartitionReplica, _ log: SimLog) {
        for (o, a) in acked[p] ?? [:] where a.epoch < replica.leaderEpoch {
            if o >= log.records.count || log.records[Int(o)] != a {
                let has = o < log.records.count ? "\(log.records[Int(o)])" : "nothing"
                fail(
                    "p\(p): broker \(id) leads epoch \(replica.leaderEpoch) holding \(has) at \(o), where \(a) was "
                        + "acknowledged")
                return
            }
        }
    }

    mutating func checkAfterStep() {
        for id in brokerIds {
            guard let b = brokers[id], b.up else { continue }
            for p in 0..<options.partitions {
                guard let r = b.replicas[p], let log = b.logs[p] else { continue }
                if r.logEnd != Int64(log.records.count) {
                    fail(
                        "p\(p): broker \(id) replica believes its log ends at \(r.logEnd); it holds \(log.records.count)"
                    )
                }
                if r.durableEnd > Int64(log.durable) {
                    fail("p\(p): broker \(id) believes \(r.durableEnd) durable; \(log.durable) are")
                }
                guard r.role == .leader else { continue }
                if r.highWatermark > r.durableEnd {
                    fail("p\(p): leader \(id) high watermark \(r.highWatermark) past its fsynced \(r.durableEnd)")
                }
                if let last = b.leaderHighWatermark[p], last.epoch == r.leaderEpoch, r.highWatermark < last.hw {
                    fail("p\(p): leader \(id) high watermark went back from \(last.hw) to \(r.highWatermark)")
                }
                brokers[id]?.leaderHighWatermark[p] = (r.leaderEpoch, r.highWatermark)
                checkInSyncAgreement(id, p, r, log)
            }
        }
    }

    /// Every member of the leader's high-watermark set (the ISR and replicas being added) holds
    /// the leader's records below the high watermark — unless a newer leader already moved it on.
    mutating func checkInSyncAgreement(_ id: Int32, _ p: Int32, _ leader: PartitionReplica, _ log: SimLog) {
        let hw = Int(leader.highWatermark)
        for m in leader.highWatermarkSet where m != id {
            guard let mb = brokers[m], mb.up, let mr = mb.replicas[p], let mlog = mb.logs[p],
                mr.leaderEpoch <= leader.leaderEpoch
            else { continue }
            if mlog.durable < hw {
                fail(
                    "p\(p): in-sync replica \(m) has \(mlog.durable) records fsynced, below leader \(id)'s high watermark \(hw)"
                )
                return
            }
            var o = hw - 1
            // Newest first: a divergence shows at the top; a full scan every step is needless.
            let floor = max(0, hw - 32)
            while o >= floor {
                if o >= mlog.records.count {
                    fail(
                        "p\(p): in-sync replica \(m) lacks \(log.records[o]) at \(o), below leader \(id)'s high watermark \(hw)"
                    )
                    return
                }
                if mlog.records[o] != log.records[o] {
                    fail(
                        "p\(p): in-sync replica \(m) holds \(mlog.records[o]) at \(o); leader \(id) holds \(log.records[o]) below its high watermark \(hw)"
                    )
                    return
                }
                o -= 1
            }
        }
    }

    // MARK: Liveness

    /// Heals the network, restarts and resumes every broker, then requires within
    /// `healBoundMs` (longer when a backlog needs more fetch round trips): an `acks=all` record acknowledged on every partition, every replica back
    /// in the ISR and every log equal to its leader's; and every acknowledged record on every
    /// replica.
    mutating func healAndCheckLiveness() {
        options.dropRate = 0
        options.duplicateRate = 0
        for id in group.keys { group[id] = 0 }
        for id in brokerIds where brokers[id]?.up == false { restart(id) }
        for id in brokerIds { brokers[id]?.pausedUntil = nil }
        note("healed; all brokers up")
        let healedAt = now
        // A replica cut off during the chaos catches up at most one fetch (`maxFetchRecords`)
        // per round trip: the bound grows with the backlog it may face (seed 2007: 999 records
        // at 8 per 150 ms round trip took 17 s for the first follower).
        let backlog = brokerIds.compactMap { id in brokers[id]?.logs.values.map(\.records.count).max() }.max() ?? 0
        let roundTrip = Int64(2 * options.maxDelayMs + options.maxDiskLatencyMs + 20)
        let bound = max(options.healBoundMs, 10_000 + Int64(backlog / options.maxFetchRecords + 20) * roundTrip)
        var probes: [Int32: Set<UInt64>] = [:]
        // A probe is sent again only after a full replication round could have acknowledged it.
        let probeEvery = Int64(8 * options.maxDelayMs + 4 * options.maxDiskLatencyMs + 300)
        var nextProbeAt: Tick = now
        while violation == nil {
            if now - healedAt > bound {
                fail("no progress within \(bound) ms of healing: " + describeCluster())
                return
            }
            if now >= nextProbeAt {
                nextProbeAt = now + probeEvery
                for p in 0..<options.partitions where !isProbeAcked(p, probes[p]) {
                    guard let leader = image.partition(topicId, p)?.leader, leader > 0 else { continue }
                    nextPayload += 1
                    nextProduceId += 1
                    probes[p, default: []].insert(nextPayload)
                    send(
                        from: Self.clientId, to: leader,
                        .produce(partition: p, id: nextProduceId, payloads: [nextPayload], acks: .all, clientEpoch: nil)
                    )
                }
            }
            if random.chance(options.consumeRate) { consumeSomewhere() }
            advance()
            if (0..<options.partitions).allSatisfy({ isProbeAcked($0, probes[$0]) && isConverged($0) }) { break }
        }
        guard violation == nil else { return }
        for p in 0..<options.partitions {
            for id in brokerIds {
                guard let log = brokers[id]?.logs[p] else { continue }
                for (o, a) in acked[p] ?? [:] where o >= log.records.count || log.records[Int(o)] != a {
                    fail("p\(p): after healing, broker \(id) lacks acknowledged \(a) at \(o)")
                    return
                }
            }
        }
    }

    func isProbeAcked(_ p: Int32, _ payloads: Set<UInt64>?) -> Bool {
        guard let payloads, !payloads.isEmpty else { return false }
        return acked[p]?.values.contains { payloads.contains($0.payload) } == true
    }

    /// Every replica in the ISR, every log equal to the leader's, the high watermark at its end.
    func isConverged(_ p: Int32) -> Bool {
        guard let state = image.partition(topicId, p), state.isr.count == state.replicas.count,
            let leader = brokers[state.leader], let lr = leader.replicas[p], lr.role == .leader,
            lr.leaderEpoch == state.leaderEpoch, let llog = leader.logs[p], lr.highWatermark == lr.logEnd
        else { return false }
        return brokerIds.allSatisfy { brokers[$0]?.logs[p]?.records == llog.records }
    }

    func describeCluster() -> String {
        var parts: [String] = []
        for p in 0..<options.partitions {
            let s = image.partition(topicId, p)
            parts.append(
                "p\(p) leader \(s?.leader ?? -1) epoch \(s?.leaderEpoch ?? -1)/\(s?.partitionEpoch ?? -1) isr \(s?.isr ?? [])"
            )
            for id in brokerIds {
                guard let b = brokers[id], let r = b.replicas[p] else { continue }
                parts.append(
                    "  \(id): \(b.up ? "\(r.role)" : "down") epoch \(r.leaderEpoch) end \(r.logEnd) durable \(r.durableEnd) "
                        + "hw \(r.highWatermark) fenced \(image.broker(id)?.fenced ?? true)")
            }
        }
        return parts.joined(separator: "\n")
    }
}
