import TernBroker
import TernRaft
import TernRaftSimulator
import TernStorage
import TernWire

/// What a simulated broker host does: registration, heartbeats, metadata, the replicas'
/// effects on their logs, fsyncs, crashes and restarts.
extension ReplicationSimulation {
    mutating func brokerTick(_ id: Int32) {
        guard var b = brokers[id] else { return }
        if b.brokerEpoch == nil, now >= b.nextRegisterAt {
            b.nextRegisterAt = now + 100
            brokers[id] = b
            send(from: id, to: Self.controllerId, .register(incarnation: b.incarnation))
        } else if let epoch = b.brokerEpoch, now >= b.nextHeartbeatAt {
            b.nextHeartbeatAt = now + options.heartbeatMs
            brokers[id] = b
            send(from: id, to: Self.controllerId, .heartbeat(brokerEpoch: epoch))
        }
        for p in 0..<options.partitions { feed(id, p, .tick) }
    }

    mutating func brokerReceive(_ id: Int32, from: Int32, _ message: Message) {
        guard let b = brokers[id] else { return }
        switch message {
        case .registered(let incarnation, let brokerEpoch, let v):
            guard incarnation == b.incarnation, b.brokerEpoch == nil else { return }
            brokers[id]?.brokerEpoch = brokerEpoch
            brokers[id]?.registeredVersion = v
            note("broker \(id) registered with epoch \(brokerEpoch) at metadata version \(v)")
        case .heartbeatRefused(let brokerEpoch):
            guard b.brokerEpoch == brokerEpoch else { return }
            note("broker \(id) registers again: epoch \(brokerEpoch) refused")
            brokers[id]?.brokerEpoch = nil
            brokers[id]?.nextRegisterAt = now
        case .metadata(let v, let states):
            guard v >= b.registeredVersion else { return }
            for s in states { feed(id, s.partition, .partitionState(s)) }
        case .fetch(let p, let f):
            feed(id, p, .fetch(from: from, f))
        case .fetchReply(let p, let reply, let records):
            feed(id, p, .fetchReply(from: from, reply), fetched: records)
        case .produce(let p, let produceId, let payloads, let acks, let clientEpoch):
            feed(
                id, p,
                .produce(id: produceId, recordCount: Int32(payloads.count), acks: acks, leaderEpoch: clientEpoch),
                payloads: payloads)
        default:
            break
        }
    }

    /// Steps replica `p` of broker `id` and performs its effects. `fetched` holds the records of
    /// the fetch reply being stepped, `payloads` those of the produce.
    @discardableResult
    mutating func feed(
        _ id: Int32, _ p: Int32, _ input: ReplicationInput, fetched: [SimRecord] = [], payloads: [UInt64] = []
    ) -> [ReplicationEffect] {
        guard var b = brokers[id], b.up, var replica = b.replicas[p], var log = b.logs[p] else { return [] }
        let wasLeader = replica.role == .leader
        let effects = replica.step(input, now: now)
        b.replicas[p] = replica
        var acks = ProduceAcks.leader
        if case .produce(_, _, let a, _) = input { acks = a }
        var fetchReplyFrom: Int64 = 0
        if case .fetchReply(_, let reply) = input, case .records(let from, _, _) = reply.body { fetchReplyFrom = from }
        for effect in effects {
            switch effect {
            case .append(let produceId, let base, let count, let epoch):
                if base != Int64(log.records.count) || Int(count) != payloads.count {
                    fail(
                        "p\(p): broker \(id) appends \(count) records at \(base); its log ends at \(log.records.count)")
                    break
                }
                let records = payloads.map { SimRecord(epoch: epoch, payload: $0) }
                log.records.append(contentsOf: records)
                scheduleSync(&log)
                checkSingleWriter(p, epoch: epoch, broker: id, incarnation: b.incarnation)
                if acks == .all { b.waitingProduces[produceId] = (p, records) }
            case .produceCompleted(let produceId, let base):
                // An acks=all produce completes once the high watermark passed it.
                if let w = b.waitingProduces.removeValue(forKey: produceId) {
                    if replica.highWatermark < base + Int64(w.records.count) {
                        fail(
                            "p\(p): broker \(id) acknowledges \(base) below its high watermark \(replica.highWatermark)"
                        )
                    }
                    acknowledge(p, base: base, w.records, by: id)
                }
            case .produceFailed(let produceId, _):
                b.waitingProduces[produceId] = nil
            case .sendFetch(let to, let f):
                if options.verbose { note("p\(p): \(id) fetches from \(to): \(f)") }
                send(from: id, to: to, .fetch(partition: p, f))
            case .answerFetch(let to, var reply):
                var records: [SimRecord] = []
                if case .records(let from, let upTo, let epochs) = reply.body {
                    let end = min(upTo, from + Int64(options.maxFetchRecords), Int64(log.records.count))
                    if from <= end {
                        records = Array(log.records[Int(from)..<Int(end)])
                        reply.body = .records(from: from, to: end, batchEpochs: epochs.filter { $0.startOffset < end })
                    }
                }
                if options.verbose { note("p\(p): \(id) answers \(to): \(reply)") }
                send(from: id, to: to, .fetchReply(partition: p, reply, records: records))
            case .truncate(let to):
                truncate(&log, p, to: to, on: id)
            case .truncateFully(let start):
                // Simulated leaders keep their whole log (no retention), so none answers
                // OFFSET_OUT_OF_RANGE (PartitionReplicaTests covers that path).
                fail("p\(p): broker \(id) truncates fully to \(start) though no leader deletes its log start")
            case .appendFetched(let from, let to):
                guard from == Int64(log.records.count), from >= fetchReplyFrom,
                    Int(to - fetchReplyFrom) <= fetched.count
                else {
                    fail("p\(p): broker \(id) appends fetched \(from)..<\(to); its log ends at \(log.records.count)")
                    break
                }
                log.records.append(contentsOf: fetched[Int(from - fetchReplyFrom)..<Int(to - fetchReplyFrom)])
                scheduleSync(&log)
            case .proposeIsr(let leaderEpoch, let partitionEpoch, let isr):
                stats.isrProposals += 1
                note("p\(p): broker \(id) proposes ISR \(isr) from \(leaderEpoch)/\(partitionEpoch)")
                send(
                    from: id, to: Self.controllerId,
                    .alterIsr(partition: p, leaderEpoch: leaderEpoch, partitionEpoch: partitionEpoch, isr: isr))
            case .highWatermark:
                break
            }
        }
        b.logs[p] = log
        brokers[id] = b
        if !wasLeader && replica.role == .leader {
            stats.leaderChanges += 1
            note("p\(p): broker \(id) leads epoch \(replica.leaderEpoch) from \(replica.logEnd)")
            checkNewLeader(id, p, replica, log)
        }
        return effects
    }

    mutating func scheduleSync(_ log: inout SimLog) {
        let last = log.syncs.last?.dueAt ?? now
        log.syncs.append((max(last, now + Int64(random.int(1...options.maxDiskLatencyMs))), log.records.count))
    }

    mutating func truncate(_ log: inout SimLog, _ p: Int32, to: Int64, on id: Int32) {
        stats.truncations += 1
        let cut = Int(to)
        guard cut >= 0, cut <= log.records.count else {
            return fail("p\(p): broker \(id) truncates to \(to) outside its log of \(log.records.count)")
        }
        let seen = visible[p] ?? []
        for o in cut..<log.records.count {
            if o < seen.count && seen[o] == log.records[o] {
                fail("p\(p): broker \(id) truncates \(log.records[o]) at \(o), which consumers saw")
            }
            if let a = acked[p]?[Int64(o)], a == log.records[o] {
                fail("p\(p): broker \(id) truncates acknowledged \(a) at \(o)")
            }
        }
        note("p\(p): broker \(id) truncates \(log.records.count) -> \(cut)")
        log.records.removeSubrange(cut...)
        log.durable = min(log.durable, cut)
        for i in log.syncs.indices { log.syncs[i].upTo = min(log.syncs[i].upTo, cut) }
    }

    mutating func completeSyncs(_ id: Int32) {
        for p in 0..<options.partitions {
            guard var log = brokers[id]?.logs[p] else { continue }
            var upTo: Int?
            while let first = log.syncs.first, first.dueAt <= now {
                log.syncs.removeFirst()
                log.durable = max(log.durable, first.upTo)
                upTo = log.durable
            }
            brokers[id]?.logs[p] = log
            if let u = upTo { feed(id, p, .persisted(upTo: Int64(u))) }
        }
    }

    // MARK: Faults

    /// Stops broker `id`: a power loss (what was never fsynced is gone) or a process crash
    /// (kill -9: the page cache keeps it, still not durable — a later power loss takes it, so a
    /// restarted replica must not report it durable before it fsyncs it).
    mutating func crash(_ id: Int32, restartAfter: Int64) {
        guard var b = brokers[id] else { return }
        b.up = false
        b.pausedUntil = nil
        let powerLoss = random.chance(0.5)
        for p in 0..<options.partitions {
            guard var log = b.logs[p] else { continue }
            if powerLoss { log.records.removeSubrange(log.durable...) }
            log.syncs = []
            b.logs[p] = log
        }
        b.restartAt = now + restartAfter
        b.waitingProduces = [:]
        brokers[id] = b
        stats.crashes += 1
        note(
            (powerLoss ? "power loss " : "crash ") + "\(id) (logs "
                + b.logs.keys.sorted().map { "p\($0):\(b.logs[$0]?.records.count ?? 0)" }.joined(separator: " ") + ")")
    }

    /// Restarts from the fsynced logs with a new incarnation: the broker registers again and
    /// acts on metadata only from that registration on.
    mutating func restart(_ id: Int32) {
        guard var b = brokers[id] else { return }
        let incarnation = nextIncarnation
        nextIncarnation += 1
        b.up = true
        b.restartAt = nil
        b.incarnation = incarnation
        b.brokerEpoch = nil
        b.registeredVersion = Int.max
        b.nextRegisterAt = now
        b.leaderHighWatermark = [:]
        for p in 0..<options.partitions {
            b.replicas[p] = makeReplica(id, incarnation: incarnation, log: b.logs[p] ?? SimLog())
            // What the page cache kept through a process crash is fsynced at start (the storage's
            // recovery does) before the replica counts it durable.
            if var log = b.logs[p], log.durable < log.records.count {
                scheduleSync(&log)
                b.logs[p] = log
            }
        }
        brokers[id] = b
        note("restart \(id) as incarnation \(incarnation)")
    }
}
