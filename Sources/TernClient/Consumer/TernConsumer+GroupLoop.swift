import Dispatch
import Logging
import Synchronization
import TernWire

extension TernConsumer {
    /// The heartbeat task: performs the membership machine's actions one at a time and feeds it
    /// their results, until it is done (the consumer left the group). All decisions are the
    /// machine's; this only does the I/O, the waiting and the logging.
    func runGroupLoop() async {
        var action = feed { $0.tick(now: $1) }
        while true {
            switch action {
            case .done:
                return
            case .nothing:
                // Not expected (this task answers every action it performs); look again shortly.
                await sleepInGroupTask(until: .now + configuration.retryBackoff)
                action = tick()
            case .wait(let deadline):
                await sleepInGroupTask(until: deadline)
                action = tick()
            case .reportError(let error):
                client.logger.warning("consumer group request failed", metadata: ["error": "\(error)"])
                state.withLock { $0.error = error }
                wakeRecordWaiters()
                action = tick()
            default:
                action = await perform(action)
            }
        }
    }

    /// Feeds the machine one event, at the current time, under the group lock.
    private func feed(
        _ event: (inout GroupMembershipState, ContinuousClock.Instant) -> GroupMembershipState.Action
    ) -> GroupMembershipState.Action {
        group.withLock { event(&$0.machine, .now) }
    }

    private func tick() -> GroupMembershipState.Action {
        let cancelled = Task.isCancelled
        return feed { machine, now in
            // Cancelled from outside: leave as close does, rather than stop mid-membership.
            if cancelled { machine.leave(now: now) }
            return machine.tick(now: now)
        }
    }

    /// Performs one I/O action and returns the machine's answer to its result.
    private func perform(_ action: GroupMembershipState.Action) async -> GroupMembershipState.Action {
        switch action {
        case .findCoordinator:
            do {
                let node = try await findCoordinator()
                return feed { $0.coordinatorFound(node, now: $1) }
            } catch {
                let failure = Self.ternError(error)
                client.logger.debug("finding the group coordinator failed", metadata: ["error": "\(failure)"])
                return feed { $0.coordinatorLookupFailed(failure, now: $1) }
            }

        case .sendHeartbeat(let request, let node):
            do {
                let response = try await client.pool.connection(to: node).send(request)
                logHeartbeat(response)
                return feed { $0.heartbeatResponse(response, now: $1) }
            } catch {
                let failure = Self.ternError(error)
                client.logger.debug("consumer group heartbeat failed", metadata: ["error": "\(failure)"])
                return feed { $0.heartbeatFailed(failure, now: $1) }
            }

        case .stopFetching(let tps):
            // No more of their records are handed out from here on.
            let positions = state.withLock { state -> [TopicPartition: Int64] in
                var positions: [TopicPartition: Int64] = [:]
                for tp in tps { if let p = state.position(tp) { positions[tp] = p } }
                state.remove(tps)
                return positions
            }
            return feed { $0.fetchingStopped(positions: positions, now: $1) }

        case .invokeRebalance(let event):
            let listener = group.withLock { $0.listener }
            await listener?(event)
            return feed { $0.rebalanceCallbackFinished(now: $1) }

        case .readPositions(let tps):
            let positions = state.withLock { state -> [TopicPartition: Int64] in
                var positions: [TopicPartition: Int64] = [:]
                for tp in tps { if let p = state.position(tp) { positions[tp] = p } }
                return positions
            }
            return feed { $0.positionsRead(positions, now: $1) }

        case .commit(let offsets, let reason):
            do {
                try await commit(offsets)
                return feed { $0.commitFinished(now: $1) }
            } catch {
                let failure = Self.ternError(error)
                switch reason {
                case .automatic:
                    client.logger.debug("automatic commit failed", metadata: ["error": "\(failure)"])
                case .revoked:
                    client.logger.warning("commit of revoked partitions failed", metadata: ["error": "\(failure)"])
                case .leaving:
                    client.logger.warning("final commit failed", metadata: ["error": "\(failure)"])
                }
                return feed { $0.commitFailed(failure, now: $1) }
            }

        case .fetchCommittedOffsets(let tps):
            do {
                let offsets = try await fetchCommitted(tps)
                return feed { $0.committedOffsetsFetched(offsets, now: $1) }
            } catch {
                let failure = Self.ternError(error)
                client.logger.debug("fetching committed offsets failed", metadata: ["error": "\(failure)"])
                return feed { $0.committedOffsetsFailed(failure, now: $1) }
            }

        case .startFetching(let starts):
            // A closed consumer fetches nothing more; the machine is told either way.
            if (try? withOpenState { $0.add(starts) }) != nil { startFetchLoop() }
            return feed { $0.fetchingStarted(now: $1) }

        case .wait, .reportError, .done, .nothing:
            preconditionFailure("runGroupLoop handles \(action) itself")
        }
    }

    private func logHeartbeat(_ response: ConsumerGroupHeartbeatResponse) {
        switch response.errorCode {
        case .none:
            break
        case .fencedMemberEpoch, .unknownMemberId:
            client.logger.info(
                "consumer left the group involuntarily; rejoining",
                metadata: ["group": "\(configuration.groupId ?? "")", "reason": "\(response.errorCode)"])
        default:
            client.logger.debug(
                "consumer group heartbeat refused",
                metadata: ["error": "\(response.errorCode)", "message": "\(response.errorMessage ?? "")"])
        }
    }

    private static func ternError(_ error: any Error) -> TernError {
        error as? TernError ?? TernError(.connectionFailed, "\(error)")
    }

    /// Waits until `deadline` (nil: no limit), an event for the machine (``wakeGroupTask(_:)``)
    /// or cancellation.
    private func sleepInGroupTask(until deadline: ContinuousClock.Instant?) async {
        let id = group.withLock { g -> UInt64 in
            g.sleeperIds += 1
            return g.sleeperIds
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = group.withLock { g -> Bool in
                    if g.wakeRequested || Task.isCancelled {
                        g.wakeRequested = false
                        return true
                    }
                    g.sleeper = (id, continuation)
                    return false
                }
                if ready { return continuation.resume() }
                if let deadline {
                    let delay = max(deadline - .now, .zero) + .milliseconds(1)
                    DispatchQueue.global().asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
                        self?.resumeGroupSleeper(id)
                    }
                }
            }
        } onCancel: {
            resumeGroupSleeper(id)
        }
    }

    private func resumeGroupSleeper(_ id: UInt64) {
        group.withLock { g -> CheckedContinuation<Void, Never>? in
            guard let sleeper = g.sleeper, sleeper.id == id else { return nil }
            g.sleeper = nil
            return sleeper.continuation
        }?.resume()
    }
}
