import TernBroker
import TernRaft
import TernRaftSimulator
import TernStorage
import TernWire

/// The controller: one reliable sequencer of ``ControllerDecisions`` over a ``MetadataImage``,
/// reached over the faulty network. `version` counts the metadata records it applied.
extension ReplicationSimulation {
    mutating func bootstrapCluster() {
        for id in brokerIds {
            let incarnation = nextIncarnation
            nextIncarnation += 1
            guard
                let reg = try? ControllerDecisions.registerBroker(
                    image, nodeId: id, incarnationId: MetadataUUID(high: incarnation, low: UInt64(id)), listeners: [],
                    roles: .broker)
            else { return fail("bootstrap: registration of broker \(id) refused") }
            commit(reg.records)
            if let records = try? ControllerDecisions.unfenceBroker(
                image, nodeId: id, brokerEpoch: reg.brokerEpoch, metadataOffset: 0, logEndOffset: 0)
            {
                commit(records)
            }
            var b = Broker()
            b.incarnation = incarnation
            b.brokerEpoch = reg.brokerEpoch
            b.registeredVersion = 0
            for p in 0..<options.partitions {
                b.replicas[p] = makeReplica(id, incarnation: incarnation, log: SimLog())
                b.logs[p] = SimLog()
            }
            brokers[id] = b
            lastHeartbeatMs[id] = 0
        }
        var generator = SimGenerator(random: SimRandom(seed: random.next()))
        do {
            let records = try ControllerDecisions.createTopic(
                image, name: "sim", partitions: options.partitions, replicationFactor: Int16(options.brokers),
                using: &generator)
            commit(records)
        } catch {
            fail("bootstrap: topic creation refused: \(error)")
        }
        topicId = image.topic(named: "sim")?.id ?? topicId
    }

    func makeReplica(_ id: Int32, incarnation: UInt64, log: SimLog) -> PartitionReplica {
        // The epoch history a restart rebuilds from the log's batches.
        var history = LeaderEpochCache()
        for (o, r) in log.records.enumerated() { history.assign(epoch: r.epoch, startOffset: Int64(o)) }
        return PartitionReplica(
            config: .init(
                replicaId: id, minInSyncReplicas: options.minInSyncReplicas,
                replicaLagTimeMaxMs: options.replicaLagTimeMaxMs, fetchBackoffMs: 20,
                fetchTimeoutMs: Int64(4 * options.maxDelayMs + 100), isrRetryMs: Int64(4 * options.maxDelayMs + 100)),
            incarnation: incarnation, logEnd: Int64(log.records.count), durableEnd: Int64(log.durable),
            history: history)
    }

    mutating func commit(_ records: [MetadataRecord]) {
        for r in records {
            do {
                try image.apply(r)
                version += 1
                if case .partitionChange(let c) = r {
                    note(
                        "controller: p\(c.partition) leader \(c.leader) epoch \(c.leaderEpoch)/\(c.partitionEpoch) isr \(c.isr)"
                    )
                }
            } catch {
                fail("controller image refused its own record \(r): \(error)")
            }
        }
    }

    var partitionStates: [MetadataImage.Partition] {
        (0..<options.partitions).compactMap { image.partition(topicId, $0) }
    }

    mutating func controllerTick() {
        if let records = try? ControllerDecisions.fenceExpiredBrokers(
            image, lastHeartbeatMs: lastHeartbeatMs, nowMs: now, sessionTimeoutMs: options.sessionTimeoutMs),
            !records.isEmpty
        {
            note("controller fences expired brokers")
            commit(records)
        }
        if options.uncleanLeaderElection, let records = try? ControllerDecisions.electUncleanLeaders(image),
            !records.isEmpty
        {
            note("controller elects uncleanly")
            commit(records)
        }
        if version != broadcastVersion || now >= nextBroadcastAt {
            broadcastVersion = version
            nextBroadcastAt = now + 100
            let states = partitionStates
            for id in brokerIds {
                send(from: Self.controllerId, to: id, .metadata(version: version, partitions: states))
            }
        }
    }

    mutating func controllerReceive(from id: Int32, _ message: Message) {
        switch message {
        case .register(let incarnation):
            guard
                let reg = try? ControllerDecisions.registerBroker(
                    image, nodeId: id, incarnationId: MetadataUUID(high: incarnation, low: UInt64(id)), listeners: [],
                    roles: .broker)
            else { return }
            if !reg.records.isEmpty { note("controller registers broker \(id) incarnation \(incarnation)") }
            commit(reg.records)
            lastHeartbeatMs[id] = now
            send(
                from: Self.controllerId, to: id,
                .registered(incarnation: incarnation, brokerEpoch: reg.brokerEpoch, version: version))
        case .heartbeat(let brokerEpoch):
            guard let b = image.broker(id), b.brokerEpoch == brokerEpoch else {
                return send(from: Self.controllerId, to: id, .heartbeatRefused(brokerEpoch: brokerEpoch))
            }
            lastHeartbeatMs[id] = now
            if b.fenced,
                let records = try? ControllerDecisions.unfenceBroker(
                    image, nodeId: id, brokerEpoch: brokerEpoch, metadataOffset: Int64(version),
                    logEndOffset: Int64(version))
            {
                note("controller unfences broker \(id)")
                commit(records)
            }
        case .alterIsr(let p, let leaderEpoch, let partitionEpoch, let isr):
            do {
                let records = try ControllerDecisions.alterIsr(
                    image, topicId: topicId, partition: p, leader: id, leaderEpoch: leaderEpoch,
                    partitionEpoch: partitionEpoch, newIsr: isr)
                commit(records)
            } catch {
                note("controller refuses ISR \(isr) for p\(p) from \(id): \(error.message)")
            }
        default:
            break
        }
    }
}
