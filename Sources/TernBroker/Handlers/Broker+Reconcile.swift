import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// Where the broker is in materializing the metadata image (Broker+Reconcile.swift).
struct ReconcileState: Sendable {
    /// The image offset (one past the last entry) the local logs last matched; -1 before the
    /// first reconcile.
    var reconciledThrough: Int64 = -1
    /// A reconcile is queued on the admin worker.
    var scheduled = false
    /// The legacy `__tern_topics.json` import is waiting for the controller's answer.
    var importInFlight = false
    /// What the last pass was waiting for, logged once per change.
    var waitingFor: String?
    /// Partitions this broker leads, by topic, each with its leader epoch (from the last applied
    /// image): one lookup answers both "do I lead it" and "in which epoch" on the produce and
    /// fetch paths.
    var leaders: [String: [Int32: Int32]] = [:]
    /// The partitions among `leaders` with more than one replica (what ``ReplicaManager`` hosts):
    /// until their replica is hosted they are served by nobody, never as a single-replica log.
    var replicatedLeads: Set<TopicPartition> = []
    /// Topics whose logs the last pass could not make or change, with why (retried each second).
    var failures: [String: String] = [:]
}

extension Broker {
    /// Called on the quorum driver's queue after every committed change: notes which partitions
    /// this broker leads now and queues a reconcile of the logs on the admin worker.
    func metadataChanged(_ change: MetadataPublisher.Change) {
        if change.before.topicsById != change.after.topicsById {
            let leaders = Self.leaderships(change.after, nodeId: config.nodeId)
            let replicated = Self.replicatedLeaderships(change.after, nodeId: config.nodeId)
            reconcileState.withLock {
                $0.leaders = leaders
                $0.replicatedLeads = replicated
            }
        }
        scheduleReconcile()
    }

    /// The partitions `nodeId` leads in `image`, by topic name, with each one's leader epoch.
    static func leaderships(_ image: MetadataImage, nodeId: Int32) -> [String: [Int32: Int32]] {
        var leaders: [String: [Int32: Int32]] = [:]
        for topic in image.topicsById.values {
            var led: [Int32: Int32] = [:]
            for partition in topic.partitions.values where partition.leader == nodeId {
                led[partition.partition] = partition.leaderEpoch
            }
            if !led.isEmpty { leaders[topic.name] = led }
        }
        return leaders
    }

    /// The partitions `nodeId` leads in `image` that have more than one replica, as
    /// ``ReplicaManager/apply(_:logs:minInSyncReplicas:lagTimeMaxMs:highWatermarks:)`` hosts
    /// them (`__consumer_offsets` included).
    static func replicatedLeaderships(_ image: MetadataImage, nodeId: Int32) -> Set<TopicPartition> {
        var out: Set<TopicPartition> = []
        for topic in image.topicsById.values {
            for p in topic.partitions.values where p.leader == nodeId && p.replicas.count > 1 {
                out.insert(TopicPartition(topic.name, p.partition))
            }
        }
        return out
    }

    /// True when the image makes `tp` a replicated partition this broker leads while no
    /// replica machine hosts it yet: the window between a committed leadership (noted at once)
    /// and the reconcile pass that hosts the replica — after a restart, until this broker's
    /// registration is committed. Its log may hold records that were never committed (a
    /// restarted leader's unreplicated tail), so it must be neither appended to as a
    /// single-replica log (an acks=all answer after a local fsync alone) nor read to its end.
    func awaitsReplicaHosting(_ tp: TopicPartition) -> Bool {
        guard reconcileState.withLock({ $0.replicatedLeads.contains(tp) }) else { return false }
        return replication.hosted(tp) == nil
    }

    /// True when the image makes this broker the leader of the partition: only the leader serves
    /// produce and fetch (followers answer NOT_LEADER_OR_FOLLOWER).
    func leads(_ topic: String, _ partition: Int32) -> Bool {
        reconcileState.withLock { $0.leaders[topic]?[partition] != nil }
    }

    /// Queues one reconcile pass on the admin worker unless one is queued already (passes
    /// coalesce: each reads the newest image).
    func scheduleReconcile(after delay: DispatchTimeInterval? = nil) {
        let queue = reconcileState.withLock { state -> Bool in
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        guard queue else { return }
        let work: @Sendable () -> Void = { [self] in
            reconcileState.withLock { $0.scheduled = false }
            guard !isStopping else { return }
            reconcile()
        }
        if let delay {
            adminQueue.asyncAfter(deadline: .now() + delay, execute: work)
        } else {
            adminQueue.async(execute: work)
        }
    }

    /// True once the local logs match the image through `offset` (a metadata-log offset).
    func hasReconciled(through offset: Int64) -> Bool {
        reconcileState.withLock { $0.reconciledThrough > offset }
    }

    /// One reconcile pass, on the admin worker: makes the local logs match the committed image
    /// (``TopicReconcile/plan(local:image:nodeId:)``).
    ///
    /// Only once the image is known to be current: it must hold *this process's* registration
    /// (so it reflects everything committed before this broker started, not a half-replayed log
    /// after a restart), and a legacy `__tern_topics.json` must be imported first — otherwise
    /// the topics it holds would look deleted.
    ///
    /// Crash safety is TopicLifecycle's: a topic is recorded in the local store only once its
    /// logs exist, and forgotten before they are removed; a directory no recorded topic holds is
    /// removed when the broker next opens its logs, and the next pass (from the durable image)
    /// makes whatever is missing.
    func reconcile() {
        dispatchPrecondition(condition: .onQueue(adminQueue))
        let current = cluster.publisher.current
        let image = current.image
        guard let me = image.broker(config.nodeId), me.incarnationId == cluster.lifecycle?.incarnationId else {
            return noteWaiting("this broker's registration to be committed")
        }
        guard importLegacyTopicsIfNeeded(image) else { return }
        let actions = TopicReconcile.plan(local: topics.all, image: image, nodeId: config.nodeId)
        // One failing topic (a disk error where its directory must go) does not hold up the
        // others: it is recorded, reported to the request that created it (which undoes the
        // creation), and retried.
        var failures: [String: String] = [:]
        adminLock.withLock { _ in
            for action in actions {
                guard !isStopping else { return }
                do {
                    try perform(action)
                } catch {
                    failures[action.topicName] = "\(error)"
                }
            }
        }
        if !isStopping { startLeaderEpochs() }
        // Before the pass is recorded: a request that waited for it (the creation of
        // `__consumer_offsets`) finds the loads of the partitions this broker now leads queued.
        followOffsetsLeadership(image)
        let newFailures = reconcileState.withLock { state -> [String: String] in
            defer {
                state.failures = failures
                state.reconciledThrough = max(state.reconciledThrough, current.nextOffset)
                state.waitingFor = nil
            }
            return failures.filter { state.failures[$0.key] != $0.value }
        }
        for (topic, reason) in newFailures.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "cannot make the topic's partition logs match the metadata image; retrying every second",
                metadata: [
                    "tern_topic": "\(topic)", "error": "\(reason)", "tern_metadata_offset": "\(current.nextOffset)",
                ])
        }
        if !failures.isEmpty { scheduleReconcile(after: .seconds(1)) }
        applyReplication(image)
    }

    /// Why the logs of `topic` could not be made to match the image at the last pass, or nil.
    func reconcileFailure(_ topic: String) -> String? {
        reconcileState.withLock { $0.failures[topic] }
    }

    private func noteWaiting(_ what: String) {
        let changed = reconcileState.withLock { state -> Bool in
            defer { state.waitingFor = what }
            return state.waitingFor != what
        }
        if changed {
            logger.info("partition logs wait for the metadata image", metadata: ["tern_waiting_for": "\(what)"])
        }
    }

    /// Applies one reconcile step. Under `adminLock`.
    private func perform(_ action: TopicReconcile.Action) throws {
        switch action {
        case .delete(let info):
            _ = try topics.delete(info.name)
            topicMetrics.forget(info.name)
            logger.info(
                "deleted topic",
                metadata: ["tern_topic": "\(info.name)", "partitions": "\(info.localPartitions.count)"])
            do {
                try logManager.deleteLogs(
                    info.localPartitions.map { TopicPartition(info.name, $0) }, shouldContinue: { !self.isStopping })
            } catch {
                // The topic is forgotten either way: what is left no recorded topic holds, and
                // the next start-up removes it.
                logger.warning(
                    "deleted topic left directories behind",
                    metadata: ["tern_topic": "\(info.name)", "error": "\(error)"])
            }
        case .create(let info):
            let tps = info.localPartitions.map { TopicPartition(info.name, $0) }.filter {
                logManager.log(for: $0) == nil
            }
            try createLogs(tps, configs: info.configs, topic: info.name)
            do {
                try topics.put(info)
            } catch {
                try? logManager.deleteLogs(tps)
                throw error
            }
            logger.info(
                "created topic logs", metadata: ["tern_topic": "\(info.name)", "partitions": "\(tps.count)"])
        case .update(let info, let add, let remove, let configsChanged):
            let added = add.map { TopicPartition(info.name, $0) }.filter { logManager.log(for: $0) == nil }
            try createLogs(added, configs: info.configs, topic: info.name)
            try topics.put(info)
            if configsChanged {
                let logConfig = resolver.logConfig(info.configs)
                for partition in info.localPartitions {
                    logManager.updateConfig(TopicPartition(info.name, partition), config: logConfig)
                }
                logger.info(
                    "applied topic configs",
                    metadata: ["tern_topic": "\(info.name)", "configs": "\(info.configs.sorted { $0.key < $1.key })"])
            }
            if !remove.isEmpty {
                try? logManager.deleteLogs(remove.map { TopicPartition(info.name, $0) })
            }
        }
    }

    private func createLogs(_ tps: [TopicPartition], configs: [String: String], topic: String) throws {
        guard !tps.isEmpty else { return }
        do {
            let prepared = try logManager.prepareLogs(
                tps, config: resolver.logConfig(configs), shouldContinue: { !self.isStopping })
            try logManager.publish(prepared)
        } catch {
            logger.error(
                "cannot create partition logs", metadata: ["tern_topic": "\(topic)", "error": "\(error)"])
            throw error
        }
    }

    /// Waits (bounded) until the logs have matched the image once: what a single-node broker
    /// does before it reports ready.
    func waitUntilReconciled(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if reconcileState.withLock({ $0.reconciledThrough >= 0 }) { return true }
            usleep(2000)
        }
        return false
    }
}
