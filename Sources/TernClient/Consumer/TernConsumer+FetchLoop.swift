import Logging
import Synchronization
import TernWire

extension TernConsumer {
    /// How long the idle fetch loop sleeps before it looks for work again.
    private var idleWait: Duration { min(configuration.retryBackoff, .milliseconds(50)) }

    /// What ends one wait of the fetch loop.
    private enum FetchLoopEvent: Sendable {
        /// The fetch to this leader finished.
        case fetched(Int32)
        /// A seek, an assignment change or a resolved position changed what to fetch.
        case targetsChanged
    }

    /// Resolves pending positions, then keeps one fetch in flight per leader broker of the
    /// assigned partitions until the consumer closes. A fetch whose partitions or offsets became
    /// stale while it was in flight (a seek, `assign`, a group assignment change) is superseded:
    /// the loop gives it up and fetches from the new positions at once, instead of waiting out
    /// its long poll.
    func runFetchLoop() async {
        await withTaskGroup(of: FetchLoopEvent.self) { group in
            var active: Set<Int32> = []
            var watching = false
            var lastRefresh: ContinuousClock.Instant?
            while !Task.isCancelled, !state.withLock({ $0.closed }) {
                await resolvePendingResets()
                await validatePositions()
                let now = ContinuousClock.now
                let snapshot = client.metadata.current
                let (byLeader, leaderless, version) = state.withLock {
                    let (byLeader, leaderless) = $0.fetchTargets(
                        now: now, leader: { snapshot.leader(topic: $0.topic, partition: $0.partition) },
                        leaderEpoch: { snapshot.leaderEpoch(topic: $0.topic, partition: $0.partition) })
                    return (byLeader, leaderless, $0.targetsVersion)
                }
                if !leaderless.isEmpty, lastRefresh.map({ now - $0 >= configuration.retryBackoff }) ?? true {
                    lastRefresh = now
                    _ = try? await client.metadata.refresh()
                }
                // Sets are built only for a fetch sent before the latest change, which is rare.
                fetchConnections.supersede { leader, inFlight in
                    inFlight.version != version && Set(inFlight.targets) != Set(byLeader[leader] ?? [])
                }
                for leader in byLeader.keys.sorted() where !active.contains(leader) {
                    active.insert(leader)
                    group.addTask { .fetched(await self.fetchOnce(from: leader)) }
                }
                if active.isEmpty {
                    try? await Task.sleep(for: idleWait)
                    continue
                }
                if !watching {
                    watching = true
                    group.addTask {
                        await self.waitForTargetsChange(since: version)
                        return .targetsChanged
                    }
                }
                switch await group.next() {
                case .fetched(let leader): active.remove(leader)
                case .targetsChanged: watching = false
                case nil: break
                }
            }
            group.cancelAll()
        }
    }

    /// Suspends until the consumer state's ``ConsumerState/targetsVersion`` moves past `version`,
    /// the consumer closes or the task is cancelled.
    private func waitForTargetsChange(since version: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (ready, replaced) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                    if state.targetsVersion != version || state.closed || Task.isCancelled { return (true, nil) }
                    defer { state.targetsWaiter = continuation }
                    return (false, state.targetsWaiter)
                }
                replaced?.resume()
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.targetsWaiter.take() }?.resume()
        }
    }

    /// Looks up the positions of partitions that have none yet (new, or reset after an
    /// out-of-range fetch).
    private func resolvePendingResets() async {
        let resets = state.withLock { $0.pendingResets }
        guard !resets.isEmpty else { return }
        var queries: [TopicPartition: Int64] = [:]
        for (tp, reset) in resets {
            switch reset.target {
            case .earliest: queries[tp] = TernClient.earliestTimestamp
            case .latest: queries[tp] = TernClient.latestTimestamp
            case .timestamp(let ms): queries[tp] = ms
            case .offset(let offset): state.withLock { $0.resolved(tp, offset: offset, epoch: reset.epoch) }
            }
        }
        guard !queries.isEmpty else { return }
        do {
            let offsets = try await client.listOffsets(queries)
            for (tp, offset) in offsets {
                guard let epoch = resets[tp]?.epoch else { continue }
                let resolved = offset >= 0 ? offset : try await lookUp(.latest, for: tp)
                state.withLock { $0.resolved(tp, offset: resolved, epoch: epoch) }
            }
        } catch {
            let failure = error as? TernError ?? TernError(.connectionFailed, "\(error)")
            client.logger.debug("cannot resolve consumer positions", metadata: ["error": "\(failure)"])
            if !failure.isRetriable {
                state.withLock { $0.error = failure }
                wakeRecordWaiters()
            }
            try? await Task.sleep(for: configuration.retryBackoff)
        }
    }

    /// Suspends while the buffered records exceed ``ConsumerConfiguration/fetchMaxBytes``.
    private func waitForBufferSpace() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.closed || state.bufferedBytes < configuration.fetchMaxBytes { return true }
                state.spaceWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The partitions to fetch from `leader` now, with the state's targets version.
    private func currentTargets(of leader: Int32) -> FetchConnections.InFlight {
        let now = ContinuousClock.now
        let snapshot = client.metadata.current
        return state.withLock {
            let targets = $0.fetchTargets(
                now: now, leader: { snapshot.leader(topic: $0.topic, partition: $0.partition) },
                leaderEpoch: { snapshot.leaderEpoch(topic: $0.topic, partition: $0.partition) }
            ).byLeader[leader] ?? []
            return FetchConnections.InFlight(targets: targets, version: $0.targetsVersion)
        }
    }

    /// One Fetch request to `leader` for every fetchable partition it leads, on the consumer's own
    /// connection to it; its records go to the buffer. Returns `leader` for the loop's bookkeeping.
    private func fetchOnce(from leader: Int32) async -> Int32 {
        await waitForBufferSpace()
        guard !Task.isCancelled else { return leader }
        let backoff = configuration.retryBackoff
        var targets: [ConsumerState.FetchTarget] = []
        do {
            let connection = try await fetchConnections.connection(to: leader, pool: client.pool)
            // Registered before it is sent, and re-read when the targets changed meanwhile, so
            // that the loop, woken by any later change, sees this fetch and can supersede it.
            var inFlight: FetchConnections.InFlight
            repeat {
                inFlight = currentTargets(of: leader)
                fetchConnections.began(leader, inFlight)
            } while state.withLock({ $0.targetsVersion }) != inFlight.version
            defer { fetchConnections.ended(leader) }
            targets = inFlight.targets
            guard !targets.isEmpty, !Task.isCancelled else { return leader }

            let request = fetchRequest(for: targets, leader: leader)
            let response: FetchResponse
            do {
                // Closing the connection is how a parked fetch is given up (see FetchConnections).
                response = try await withTaskCancellationHandler {
                    try await connection.send(request, extraTimeout: configuration.fetchMaxWait)
                } onCancel: {
                    connection.close()
                }
            } catch {
                fetchSessions.withLock { $0[leader, default: FetchSession()].failed() }
                throw error
            }
            fetchSessions.withLock { $0[leader, default: FetchSession()].succeeded(request, sessionId: response.sessionId) }
            let peer = connection.description
            let byPartition = Dictionary(targets.map { ($0.tp, $0) }, uniquingKeysWith: { first, _ in first })
            var results: [(ConsumerState.FetchTarget, FetchedPartition)] = []
            for topic in response.topics {
                for partition in topic.partitions {
                    let tp = TopicPartition(topic: topic.name, partition: partition.partition)
                    guard let target = byPartition[tp] else { continue }
                    results.append(
                        (target, FetchedPartition.decode(partition, topic: topic.name, fetchOffset: target.offset, peer: peer)))
                }
            }
            let policy = configuration.autoOffsetReset
            let (refresh, wake, truncations) = state.withLock { state -> (Bool, Bool, [LogTruncation]) in
                var refresh = false
                var truncations: [LogTruncation] = []
                for (target, result) in results {
                    let effects = state.apply(result, for: target, policy: policy, now: .now, backoff: backoff)
                    refresh = effects.refreshMetadata || refresh
                    if let truncation = effects.truncation { truncations.append(truncation) }
                }
                return (refresh, state.hasSomethingForPoll, truncations)
            }
            for truncation in truncations { report(truncation) }
            if wake { wakeRecordWaiters() }
            if refresh { _ = try? await client.metadata.refresh() }
        } catch let error as TernError
            where error.brokerError == .fetchSessionIdNotFound || error.brokerError == .invalidFetchSessionEpoch
        {
            // The broker evicted or lost the session: the next request (at once) is full again.
            client.logger.debug("fetch session reset", metadata: ["tern_peer": "\(leader)", "error": "\(error)"])
        } catch let error as TernError where error.code == .closed {
            // Superseded by a seek or an assignment change (fetch again at once), or the consumer
            // is closing (the loop ends).
            client.logger.trace("fetch given up", metadata: ["tern_peer": "\(leader)", "error": "\(error)"])
        } catch {
            let failure = error as? TernError ?? TernError(.connectionFailed, "\(error)")
            if targets.isEmpty { targets = currentTargets(of: leader).targets }
            client.logger.debug(
                "fetch failed", metadata: ["tern_peer": "\(leader)", "error": "\(failure)"])
            state.withLock { state in
                for target in targets { state.backOff(target.tp, until: .now + backoff) }
                if !failure.isRetriable { state.error = failure }
            }
            if !failure.isRetriable { wakeRecordWaiters() }
            _ = try? await client.metadata.refresh()
        }
        return leader
    }

    private func fetchRequest(for targets: [ConsumerState.FetchTarget], leader: Int32) -> FetchRequest {
        let partitionMax = Int32(clamping: configuration.maxPartitionFetchBytes)
        // KIP-320 / KIP-595: the leader epoch the metadata names, and that of the last batch
        // fetched, so that a stale leader refuses and a diverged log is named.
        let partitions = targets.map {
            (
                $0.tp,
                FetchRequest.Partition(
                    partition: $0.tp.partition, fetchOffset: $0.offset, maxBytes: partitionMax,
                    currentLeaderEpoch: $0.currentLeaderEpoch, lastFetchedEpoch: $0.lastFetchedEpoch)
            )
        }
        let waitMs = configuration.fetchMaxWait.components.seconds * 1000
            + configuration.fetchMaxWait.components.attoseconds / 1_000_000_000_000_000
        let session = fetchSessions.withLock { $0[leader] ?? FetchSession() }
        return session.request(
            for: partitions, maxWaitMs: Int32(clamping: waitMs), minBytes: Int32(clamping: configuration.fetchMinBytes),
            maxBytes: Int32(clamping: configuration.fetchMaxBytes))
    }
}
