import TernWire

/// A group consumer's membership (KIP-848's consumer side) as an I/O-free state machine, the
/// client's twin of the broker's `GroupCoordinatorState`. Events go in — the application
/// subscribes or closes, a heartbeat falls due, the coordinator answers, a callback or a commit
/// finished — and each returns the one ``Action`` to perform next, whose result is the next
/// event. It holds no clock, lock, task or connection: ``TernConsumer`` keeps it behind its group
/// lock and performs its actions one at a time from the heartbeat task; tests drive it directly
/// with made-up times.
///
/// The order it keeps:
/// - Partitions a heartbeat response takes away stop being fetched, then the application's
///   `onRebalance(.revoked)` runs, then (with auto-commit) their positions are committed, and only
///   after that does a heartbeat leave them out of `ownedPartitions` — the release.
/// - New partitions start at the group's committed offset (else at the reset policy), are fetched,
///   then `onRebalance(.assigned)` runs.
/// - A fenced member (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID) stops fetching what it had, gets
///   `onRebalance(.lost)` and rejoins with epoch 0.
/// - Leaving finishes a revocation under way, commits the positions (auto-commit), then sends
///   epoch -1, or -2 for a static member (`group.instance.id`), which keeps its partitions for its
///   session timeout.
///
/// The member epoch only grows, except that it drops to 0 when the member is fenced or has left.
struct GroupMembershipState: Sendable {
    /// What the machine needs of the consumer's configuration.
    struct Settings: Sendable, Hashable {
        var groupId: String
        /// `group.instance.id` of a static member.
        var instanceId: String?
        var sessionTimeoutMs: Int32
        var rebalanceTimeoutMs: Int32
        var autoCommit: Bool
        var autoCommitInterval: Duration
        /// The first wait after a failed request; it doubles with each failure in a row, up to
        /// ``maxRetryBackoff``.
        var retryBackoff: Duration
        /// Where a newly assigned partition without a committed offset starts.
        var offsetReset: SeekPosition

        init(
            groupId: String, instanceId: String? = nil, sessionTimeoutMs: Int32 = 45_000,
            rebalanceTimeoutMs: Int32 = 60_000, autoCommit: Bool = true, autoCommitInterval: Duration = .seconds(5),
            retryBackoff: Duration = .milliseconds(100), offsetReset: SeekPosition = .latest
        ) {
            self.groupId = groupId
            self.instanceId = instanceId
            self.sessionTimeoutMs = sessionTimeoutMs
            self.rebalanceTimeoutMs = rebalanceTimeoutMs
            self.autoCommit = autoCommit
            self.autoCommitInterval = autoCommitInterval
            self.retryBackoff = retryBackoff
            self.offsetReset = offsetReset
        }

        init(_ configuration: ConsumerConfiguration) {
            self.init(
                groupId: configuration.groupId ?? "", instanceId: configuration.groupInstanceId,
                sessionTimeoutMs: Int32(clamping: configuration.sessionTimeout.wholeMilliseconds),
                rebalanceTimeoutMs: Int32(clamping: configuration.rebalanceTimeout.wholeMilliseconds),
                autoCommit: configuration.enableAutoCommit, autoCommitInterval: configuration.autoCommitInterval,
                retryBackoff: configuration.retryBackoff,
                // `.none` has no meaning for a partition the group hands over: it starts at the end.
                offsetReset: configuration.autoOffsetReset == .earliest ? .earliest : .latest)
        }
    }

    /// Why the machine asks for a commit (the consumer logs failures by it).
    enum CommitReason: Sendable, Hashable {
        /// The periodic automatic commit.
        case automatic
        /// Positions of revoked partitions, before they are released.
        case revoked
        /// The last commit before leaving the group.
        case leaving
    }

    /// What the consumer does next. Each action but `wait`, `reportError`, `done` and `nothing` is
    /// answered by the event its comment names; `wait` and `reportError` are followed by ``tick(now:)``.
    enum Action: Sendable, Hashable {
        /// Nothing to do before `until` (nil: before an external event); then ``tick(now:)``.
        case wait(until: ContinuousClock.Instant?)
        /// Look the coordinator up with FindCoordinator: ``coordinatorFound(_:now:)`` or
        /// ``coordinatorLookupFailed(_:now:)``.
        case findCoordinator
        /// Send this heartbeat to the coordinator: ``heartbeatResponse(_:now:)`` or
        /// ``heartbeatFailed(_:now:)``.
        case sendHeartbeat(ConsumerGroupHeartbeatRequest, coordinator: Int32)
        /// Stop fetching these partitions and drop their buffered records:
        /// ``fetchingStopped(positions:now:)`` with the positions they had.
        case stopFetching(Set<TopicPartition>)
        /// Call the application's `onRebalance` and wait for it: ``rebalanceCallbackFinished(now:)``.
        case invokeRebalance(RebalanceEvent)
        /// Read the current positions of these partitions: ``positionsRead(_:now:)``.
        case readPositions(Set<TopicPartition>)
        /// Commit these offsets: ``commitFinished(now:)`` or ``commitFailed(_:now:)``.
        case commit([TopicPartition: Int64], CommitReason)
        /// Fetch the group's committed offsets of these partitions:
        /// ``committedOffsetsFetched(_:now:)`` or ``committedOffsetsFailed(_:now:)``.
        case fetchCommittedOffsets(Set<TopicPartition>)
        /// Start fetching these partitions at these positions: ``fetchingStarted(now:)``.
        case startFetching([TopicPartition: SeekPosition])
        /// Hand this error to the application's next `poll`.
        case reportError(TernError)
        /// The member left the group (or never joined one): the heartbeat task ends.
        case done
        /// The event answered no action of the machine's (a late answer once it is done): nothing
        /// changed.
        case nothing
    }

    enum Phase: Sendable, Hashable {
        /// Not subscribed yet.
        case unsubscribed
        /// Joining or a member.
        case active
        /// The coordinator refused the member for good (INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT);
        /// no more heartbeats.
        case stopped
        /// Finishing a revocation, committing and leaving.
        case leaving
        /// Left.
        case done
    }

    /// Steps still to take, in order: a reconciliation of the last assignment, losing partitions,
    /// leaving.
    enum Work: Sendable, Hashable {
        case stopFetching(Set<TopicPartition>, lost: Bool)
        case callback(RebalanceEvent)
        case commitRevoked
        /// Drops the revoked partitions from those reported owned: the next heartbeat releases them.
        case release(Set<TopicPartition>)
        case fetchCommitted(Set<TopicPartition>)
        case finalCommit
        case leaveGroup
    }

    /// The action being performed, whose answer is the one event the machine expects.
    enum InFlight: Sendable, Hashable {
        case findCoordinator
        /// `epoch` is the one sent: negative for the leave.
        case heartbeat(epoch: Int32)
        case stopFetching(Set<TopicPartition>, lost: Bool)
        case callback
        case readPositions(final: Bool)
        case commit([TopicPartition: Int64])
        case fetchCommitted(Set<TopicPartition>)
        case startFetching(Set<TopicPartition>)
    }

    /// The most a run of failures makes the machine wait between attempts (Kafka's
    /// `retry.backoff.max.ms` default).
    static let maxRetryBackoff: Duration = .seconds(1)
    /// The least wait after a failure, so a fast-failing coordinator is not hammered.
    static let minRetryBackoff: Duration = .milliseconds(100)
    /// The wait after an error the application is told about.
    static let errorBackoff: Duration = .milliseconds(500)

    let settings: Settings
    private(set) var phase = Phase.unsubscribed
    private(set) var subscribed = false
    /// Subscribed topic names, sorted, without duplicates.
    private(set) var topics: [String] = []
    /// "" until the coordinator gave one.
    private(set) var memberId = ""
    /// 0 until the coordinator accepted the member, and after it was fenced or left.
    private(set) var memberEpoch: Int32 = 0
    private(set) var coordinator: Int32?
    /// Partitions received and not yet released: what the next heartbeat reports as owned.
    private(set) var owned: Set<TopicPartition> = []
    /// Positions of the partitions being revoked, from when their fetching stopped until their
    /// release, so commits made meanwhile (the application's, in its callback) include them.
    private(set) var revoking: [TopicPartition: Int64] = [:]
    /// The offsets last committed, so automatic commits skip partitions that did not move.
    private(set) var committed: [TopicPartition: Int64] = [:]
    /// The coordinator's heartbeat interval (its last answer's).
    private(set) var heartbeatInterval: Duration = .seconds(3)
    private(set) var pending: [Work] = []
    private(set) var inFlight: InFlight?
    private var heartbeatNow = false
    private var nextHeartbeat: ContinuousClock.Instant?
    private var nextAutoCommit: ContinuousClock.Instant?
    private var backoffUntil: ContinuousClock.Instant?
    /// Failed requests in a row, for the backoff.
    private var failures = 0

    init(settings: Settings) {
        self.settings = settings
    }

    // MARK: Queries

    /// Member id and epoch for OffsetCommit and OffsetFetch: a member's own, else none.
    var commitIdentity: (memberId: String, memberEpoch: Int32) {
        memberEpoch > 0 ? (memberId, memberEpoch) : ("", OffsetCommitRequest.noMemberEpoch)
    }

    /// The epoch a leaving member sends.
    var leaveEpoch: Int32 {
        settings.instanceId == nil
            ? ConsumerGroupHeartbeatRequest.leaveEpoch : ConsumerGroupHeartbeatRequest.staticLeaveEpoch
    }

    // MARK: Events from the application and from outside the heartbeat task

    /// The application subscribed to `topics` (again): the next heartbeat, sent at once, carries
    /// them. Ignored once the consumer is leaving.
    mutating func subscribe(topics: [String], now: ContinuousClock.Instant) {
        let topics = Array(Set(topics)).sorted()
        switch phase {
        case .unsubscribed:
            phase = .active
            subscribed = true
            self.topics = topics
            heartbeatNow = true
            if settings.autoCommit { nextAutoCommit = now + settings.autoCommitInterval }
        case .active, .stopped:
            if topics != self.topics { heartbeatNow = true }
            self.topics = topics
        case .leaving, .done:
            break
        }
    }

    /// The application closes the consumer: finish a revocation under way (through its commit),
    /// commit with auto-commit, leave if a member. Partitions of an answer not yet acted on are
    /// not taken.
    mutating func leave(now: ContinuousClock.Instant) {
        switch phase {
        case .unsubscribed:
            phase = .done
        case .active, .stopped:
            phase = .leaving
            pending.removeAll {
                if case .fetchCommitted = $0 { return true }
                return false
            }
            pending += [.finalCommit, .leaveGroup]
        case .leaving, .done:
            break
        }
    }

    /// Offsets were committed (by the application, or by any commit the consumer made).
    mutating func recordCommitted(_ offsets: [TopicPartition: Int64]) {
        committed.merge(offsets) { _, new in new }
    }

    /// The coordinator was found outside the heartbeat task (for a commit).
    mutating func learnedCoordinator(_ node: Int32) {
        coordinator = node
    }

    /// A request outside the heartbeat task learned the coordinator moved or is unreachable.
    mutating func forgetCoordinator() {
        coordinator = nil
    }

    // MARK: Helpers

    static func lists(_ tps: Set<TopicPartition>) -> [TopicPartitionList] {
        Dictionary(grouping: tps, by: \.topic).sorted { $0.key < $1.key }.map {
            TopicPartitionList(name: $0.key, partitions: $0.value.map(\.partition).sorted())
        }
    }

    static func set(_ lists: [TopicPartitionList]) -> Set<TopicPartition> {
        Set(lists.flatMap { t in t.partitions.map { TopicPartition(topic: t.name, partition: $0) } })
    }

    func heartbeatRequest(epoch: Int32) -> ConsumerGroupHeartbeatRequest {
        let leaving = epoch < 0
        return ConsumerGroupHeartbeatRequest(
            groupId: settings.groupId, memberId: memberId, memberEpoch: epoch, instanceId: settings.instanceId,
            rebalanceTimeoutMs: settings.rebalanceTimeoutMs, sessionTimeoutMs: settings.sessionTimeoutMs,
            subscribedTopics: leaving ? [] : topics, ownedPartitions: leaving ? [] : Self.lists(owned))
    }

    /// The wait after the `failures`-th failure in a row.
    func retryDelay(failures: Int) -> Duration {
        let base = max(settings.retryBackoff, Self.minRetryBackoff)
        let cap = max(base, Self.maxRetryBackoff)
        var delay = base
        for _ in 1..<max(1, min(failures, 16)) {
            delay *= 2
            if delay >= cap { return cap }
        }
        return min(delay, cap)
    }
}

extension GroupMembershipState {
    // MARK: The heartbeat task's events

    /// A wait is over (a deadline passed or an external event came), or the task starts.
    mutating func tick(now: ContinuousClock.Instant) -> Action {
        guard inFlight == nil else { return .nothing }
        return advance(now: now)
    }

    mutating func coordinatorFound(_ node: Int32, now: ContinuousClock.Instant) -> Action {
        guard inFlight == .findCoordinator else { return .nothing }
        inFlight = nil
        coordinator = node
        return advance(now: now)
    }

    mutating func coordinatorLookupFailed(_ error: TernError, now: ContinuousClock.Instant) -> Action {
        guard inFlight == .findCoordinator else { return .nothing }
        inFlight = nil
        if phase == .leaving {
            // One attempt: a consumer that cannot find its coordinator closes without the leave,
            // and the coordinator fences it after its session timeout.
            pending.removeAll { $0 == .leaveGroup }
            return advance(now: now)
        }
        return failed(error, now: now)
    }

    mutating func heartbeatResponse(_ response: ConsumerGroupHeartbeatResponse, now: ContinuousClock.Instant) -> Action
    {
        guard case .heartbeat(let sentEpoch) = inFlight else { return .nothing }
        inFlight = nil
        // The leave's answer: whatever it says, this member is gone.
        if sentEpoch < 0 { return advance(now: now) }
        switch response.errorCode {
        case .none:
            guard response.memberEpoch > 0 else {
                let error = TernError(
                    .protocolError,
                    "heartbeat to group '\(settings.groupId)' was answered with member epoch \(response.memberEpoch)")
                return failed(error, now: now)
            }
            failures = 0
            heartbeatInterval = .milliseconds(max(1, Int64(response.heartbeatIntervalMs)))
            nextHeartbeat = now + heartbeatInterval
            // An answer older than one already applied (epochs only grow) says nothing new.
            if memberEpoch > 0 && response.memberEpoch < memberEpoch { return advance(now: now) }
            memberId = response.memberId
            memberEpoch = response.memberEpoch
            // While leaving only the identity matters (for the last commit); the assignment is not
            // taken.
            if phase == .active { reconcile(Self.set(response.assignment)) }
            return advance(now: now)
        case .fencedMemberEpoch, .unknownMemberId:
            fenced(forgetMemberId: response.errorCode == .unknownMemberId)
            return advance(now: now)
        default:
            return failed(
                TernError.broker(
                    response.errorCode, response.errorMessage, context: "heartbeat to group '\(settings.groupId)'"),
                now: now)
        }
    }

    mutating func heartbeatFailed(_ error: TernError, now: ContinuousClock.Instant) -> Action {
        guard case .heartbeat(let sentEpoch) = inFlight else { return .nothing }
        inFlight = nil
        if sentEpoch < 0 { return advance(now: now) }
        return failed(error, now: now)
    }

    /// `positions`: those the stopped partitions had (none for one not yet positioned).
    mutating func fetchingStopped(positions: [TopicPartition: Int64], now: ContinuousClock.Instant) -> Action {
        guard case .stopFetching(let tps, let lost) = inFlight else { return .nothing }
        inFlight = nil
        if !lost { revoking = positions.filter { tps.contains($0.key) } }
        return advance(now: now)
    }

    mutating func rebalanceCallbackFinished(now: ContinuousClock.Instant) -> Action {
        guard inFlight == .callback else { return .nothing }
        inFlight = nil
        return advance(now: now)
    }

    mutating func positionsRead(_ positions: [TopicPartition: Int64], now: ContinuousClock.Instant) -> Action {
        guard case .readPositions(let final) = inFlight else { return .nothing }
        inFlight = nil
        var offsets = positions.filter { owned.contains($0.key) }
        if final { offsets.merge(revoking) { current, _ in current } }
        let changed = offsets.filter { committed[$0.key] != $0.value }
        guard !changed.isEmpty else { return advance(now: now) }
        inFlight = .commit(changed)
        return .commit(changed, final ? .leaving : .automatic)
    }

    mutating func commitFinished(now: ContinuousClock.Instant) -> Action {
        guard case .commit(let offsets) = inFlight else { return .nothing }
        inFlight = nil
        recordCommitted(offsets)
        return advance(now: now)
    }

    /// The commit failed after the consumer's own retries; membership goes on (the consumer logs it).
    mutating func commitFailed(_ error: TernError, now: ContinuousClock.Instant) -> Action {
        guard case .commit = inFlight else { return .nothing }
        inFlight = nil
        return advance(now: now)
    }

    /// `offsets`: the group's committed offsets (-1 or absent: none).
    mutating func committedOffsetsFetched(_ offsets: [TopicPartition: Int64], now: ContinuousClock.Instant) -> Action {
        guard case .fetchCommitted(let tps) = inFlight else { return .nothing }
        inFlight = nil
        guard phase == .active else { return advance(now: now) }
        var starts: [TopicPartition: SeekPosition] = [:]
        for tp in tps {
            if let offset = offsets[tp], offset >= 0 {
                starts[tp] = .offset(offset)
                // Already committed: an automatic commit skips the partition until it moves.
                committed[tp] = offset
            } else {
                starts[tp] = settings.offsetReset
            }
        }
        inFlight = .startFetching(tps)
        return .startFetching(starts)
    }

    /// The partitions stay unowned; the next heartbeat's answer offers them again.
    mutating func committedOffsetsFailed(_ error: TernError, now: ContinuousClock.Instant) -> Action {
        guard case .fetchCommitted = inFlight else { return .nothing }
        inFlight = nil
        if phase != .active { return advance(now: now) }
        return failed(error, now: now)
    }

    mutating func fetchingStarted(now: ContinuousClock.Instant) -> Action {
        guard case .startFetching(let tps) = inFlight else { return .nothing }
        inFlight = nil
        owned.formUnion(tps)
        pending.insert(.callback(.assigned(tps.sorted())), at: 0)
        return advance(now: now)
    }

    // MARK: Transitions

    /// Queues what a new assignment asks: the revocation first, then the additions.
    private mutating func reconcile(_ assignment: Set<TopicPartition>) {
        let revoked = owned.subtracting(assignment)
        let added = assignment.subtracting(owned)
        if !revoked.isEmpty {
            pending += [
                .stopFetching(revoked, lost: false), .callback(.revoked(revoked.sorted())), .commitRevoked,
                .release(revoked),
            ]
        }
        if !added.isEmpty { pending.append(.fetchCommitted(added)) }
    }

    /// Everything held is lost (it belongs to others already); rejoin at once with epoch 0.
    private mutating func fenced(forgetMemberId: Bool) {
        let lost = owned.union(revoking.keys)
        owned = []
        revoking = [:]
        memberEpoch = 0
        if forgetMemberId { memberId = "" }
        pending.removeAll { $0 != .finalCommit && $0 != .leaveGroup }
        if !lost.isEmpty {
            pending.insert(contentsOf: [.stopFetching(lost, lost: true), .callback(.lost(lost.sorted()))], at: 0)
        }
        heartbeatNow = true
    }

    /// A request of the heartbeat task failed: back off, forgetting the coordinator unless the
    /// error is the application's to see.
    private mutating func failed(_ error: TernError, now: ContinuousClock.Instant) -> Action {
        heartbeatNow = true
        if phase == .leaving {
            if error.brokerError.map(\.isRetriable) ?? true { coordinator = nil }
            return advance(now: now)
        }
        failures += 1
        if let code = error.brokerError, !code.isRetriable {
            backoffUntil = now + max(settings.retryBackoff, Self.errorBackoff)
            if code == .invalidSessionTimeout || code == .invalidGroupId { phase = .stopped }
            return .reportError(error)
        }
        coordinator = nil
        backoffUntil = now + retryDelay(failures: failures)
        return advance(now: now)
    }

    /// The next action once nothing is in flight.
    private mutating func advance(now: ContinuousClock.Instant) -> Action {
        while !pending.isEmpty {
            let work = pending.removeFirst()
            switch work {
            case .stopFetching(let tps, let lost):
                inFlight = .stopFetching(tps, lost: lost)
                return .stopFetching(tps)
            case .callback(let event):
                inFlight = .callback
                return .invokeRebalance(event)
            case .commitRevoked:
                guard settings.autoCommit else { continue }
                let changed = revoking.filter { committed[$0.key] != $0.value }
                guard !changed.isEmpty else { continue }
                inFlight = .commit(changed)
                return .commit(changed, .revoked)
            case .release(let tps):
                owned.subtract(tps)
                revoking = [:]
                heartbeatNow = true
            case .fetchCommitted(let tps):
                inFlight = .fetchCommitted(tps)
                return .fetchCommittedOffsets(tps)
            case .finalCommit:
                guard settings.autoCommit, !owned.isEmpty || !revoking.isEmpty else { continue }
                inFlight = .readPositions(final: true)
                return .readPositions(owned)
            case .leaveGroup:
                guard memberEpoch > 0 else { continue }
                guard let coordinator else {
                    pending.insert(.leaveGroup, at: 0)
                    inFlight = .findCoordinator
                    return .findCoordinator
                }
                inFlight = .heartbeat(epoch: leaveEpoch)
                return .sendHeartbeat(heartbeatRequest(epoch: leaveEpoch), coordinator: coordinator)
            }
        }
        switch phase {
        case .unsubscribed, .stopped:
            return .wait(until: nil)
        case .done:
            return .done
        case .leaving:
            phase = .done
            owned = []
            revoking = [:]
            memberEpoch = 0
            return .done
        case .active:
            return schedule(now: now)
        }
    }

    /// A member with nothing queued: heartbeat when due, commit when due, else wait.
    private mutating func schedule(now: ContinuousClock.Instant) -> Action {
        if let backoffUntil {
            if backoffUntil > now { return .wait(until: backoffUntil) }
            self.backoffUntil = nil
        }
        guard let coordinator else {
            inFlight = .findCoordinator
            return .findCoordinator
        }
        if heartbeatNow || (nextHeartbeat.map { $0 <= now } ?? true) {
            heartbeatNow = false
            inFlight = .heartbeat(epoch: memberEpoch)
            return .sendHeartbeat(heartbeatRequest(epoch: memberEpoch), coordinator: coordinator)
        }
        if settings.autoCommit, let due = nextAutoCommit, due <= now {
            nextAutoCommit = now + settings.autoCommitInterval
            if memberEpoch > 0 && !owned.isEmpty {
                inFlight = .readPositions(final: false)
                return .readPositions(owned)
            }
        }
        var wake = nextHeartbeat ?? now
        if settings.autoCommit, let due = nextAutoCommit { wake = min(wake, due) }
        return .wait(until: wake)
    }
}
