import Foundation
import TernTestSupport
import TernWire
import XCTest

@testable import TernClient

extension GroupMembershipStateTests {
    /// Seeded random runs: a scripted coordinator answers with random assignments and errors, the
    /// application subscribes, commits and closes at random moments, and the invariants are
    /// checked after every step. A failure prints the seed and the command that replays it.
    func testRandomEventsKeepTheInvariants() {
        let seeds: [UInt64]
        if let text = ProcessInfo.processInfo.environment["GROUP_MEMBERSHIP_SEED"], let seed = UInt64(text) {
            seeds = [seed]
        } else {
            seeds = Array(1...300)
        }
        var total = MembershipSimulation.Counts()
        for seed in seeds {
            var simulation = MembershipSimulation(seed: seed)
            if let failure = simulation.run(steps: 400) {
                return XCTFail(
                    "seed \(seed): \(failure)\nreplay: GROUP_MEMBERSHIP_SEED=\(seed) swift test --filter "
                        + "GroupMembershipStateTests/testRandomEventsKeepTheInvariants\nlast steps:\n"
                        + simulation.log.suffix(40).joined(separator: "\n"))
            }
            total.add(simulation.counts)
        }
        // The runs went through every path the invariants are about.
        guard seeds.count > 1 else { return }
        print("group membership simulation: \(seeds.count) runs, \(total)")
        XCTAssertGreaterThan(total.revokedCommits, 100)
        XCTAssertGreaterThan(total.releases, 100)
        XCTAssertGreaterThan(total.lost, 100)
        XCTAssertGreaterThan(total.staleAnswers, 20)
        XCTAssertGreaterThan(total.leaves, 100)
        XCTAssertGreaterThan(total.staticLeaves, 50)
    }
}

/// One random run of a ``GroupMembershipState`` against a scripted coordinator and application.
struct MembershipSimulation {
    typealias Action = GroupMembershipState.Action

    struct Counts {
        var revokedCommits = 0
        var releases = 0
        var lost = 0
        var staleAnswers = 0
        var leaves = 0
        var staticLeaves = 0

        mutating func add(_ other: Counts) {
            revokedCommits += other.revokedCommits
            releases += other.releases
            lost += other.lost
            staleAnswers += other.staleAnswers
            leaves += other.leaves
            staticLeaves += other.staticLeaves
        }
    }

    static let partitions = ["t", "u"].flatMap { topic in
        (0..<3).map { TopicPartition(topic: topic, partition: Int32($0)) }
    }

    var rng: SeededGenerator
    var machine: GroupMembershipState
    let settings: GroupMembershipState.Settings
    var now = ContinuousClock.now
    var action = Action.wait(until: nil)
    var log: [String] = []
    var counts = Counts()

    // The coordinator.
    var coordinatorEpoch: Int32 = 0
    var assignment: Set<TopicPartition> = []

    // The application: what it fetches (with positions) and what the callbacks told it it has.
    var fetching: [TopicPartition: Int64] = [:]
    var told: Set<TopicPartition> = []

    // Bookkeeping for the invariants.
    var lastEpoch: Int32 = 0
    /// Revoked by an applied answer; their callback or their commit has not finished.
    var revokedUnfinished: Set<TopicPartition> = []
    /// Revoked by an applied answer and not yet left out of a heartbeat.
    var revokedUnreleased: Set<TopicPartition> = []
    var revokedCallbackDone: Set<TopicPartition> = []
    /// Released or lost, and not assigned again since: the member must not claim them.
    var mustNotOwn: Set<TopicPartition> = []
    /// The group's committed offsets as the simulation knows them, and the positions revoked
    /// partitions had when their fetching stopped: whether a revocation needs a commit is decided
    /// here, not taken from the machine.
    var committed: [TopicPartition: Int64] = [:]
    var stoppedAt: [TopicPartition: Int64] = [:]
    /// Partitions the last fencing took away; the machine must stop exactly those.
    var expectedLost: Set<TopicPartition>?
    /// Fenced: the next heartbeat must rejoin with epoch 0.
    var mustRejoin = false
    var leaveRequested = false
    var leaveSent = false

    init(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        settings = GroupMembershipState.Settings(
            groupId: "g", instanceId: Bool.random(using: &rng) ? "host-a" : nil, sessionTimeoutMs: 3000,
            rebalanceTimeoutMs: 6000, autoCommit: Int.random(in: 0..<4, using: &rng) > 0,
            autoCommitInterval: .milliseconds(Int.random(in: 20...500, using: &rng)), retryBackoff: .milliseconds(100),
            offsetReset: .earliest)
        self.rng = rng
        machine = GroupMembershipState(settings: settings)
    }

    func chance(_ percent: Int, _ rng: inout SeededGenerator) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }

    mutating func randomTopics() -> [String] {
        [["t"], ["u"], ["t", "u"], ["u", "t", "t"]][Int.random(in: 0..<4, using: &rng)]
    }

    mutating func randomError() -> TernError {
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: TernError(.connectionFailed, "refused")
        case 1: TernError(.timedOut, "no answer")
        default: TernError.broker(.coordinatorNotAvailable, nil, context: "simulated")
        }
    }

    // MARK: Running

    /// Runs `steps` random steps, then closes and finishes; returns the first broken invariant.
    mutating func run(steps: Int) -> String? {
        machine.subscribe(topics: randomTopics(), now: now)
        if let failure = emit(machine.tick(now: now), after: "subscribe") { return failure }
        for _ in 0..<steps where action != .done {
            if let failure = step(external: true) { return failure }
        }
        if !leaveRequested, let failure = leave() { return failure }
        for _ in 0..<200 where action != .done {
            if let failure = step(external: false) { return failure }
        }
        guard action == .done else { return "still not done after leaving: \(action)" }
        // Late answers once done change nothing.
        let late: [Action] = [
            machine.heartbeatResponse(
                ConsumerGroupHeartbeatResponse(
                    memberId: "m", memberEpoch: coordinatorEpoch + 1, heartbeatIntervalMs: 10,
                    assignment: GroupMembershipState.lists(Set(Self.partitions))), now: now),
            machine.heartbeatFailed(TernError(.timedOut, "late"), now: now),
            machine.fetchingStarted(now: now), machine.committedOffsetsFetched([:], now: now),
            machine.commitFinished(now: now), machine.rebalanceCallbackFinished(now: now),
        ]
        guard late.allSatisfy({ $0 == .nothing }) else { return "a late answer did something: \(late)" }
        guard machine.tick(now: now) == .done, machine.memberEpoch == 0, machine.owned.isEmpty else {
            return "done but epoch \(machine.memberEpoch), owned \(machine.owned)"
        }
        return nil
    }

    mutating func leave() -> String? {
        leaveRequested = true
        machine.leave(now: now)
        log.append("leave")
        // The consumer wakes its waiting heartbeat task.
        if case .wait = action { return emit(machine.tick(now: now), after: "wake") }
        return nil
    }

    mutating func step(external: Bool) -> String? {
        let roll = Int.random(in: 0..<100, using: &rng)
        if external && roll < 4 && !leaveRequested {
            let topics = randomTopics()
            machine.subscribe(topics: topics, now: now)
            log.append("subscribe \(topics)")
            if case .wait = action { return emit(machine.tick(now: now), after: "wake") }
            return checkState(allowEpochDrop: false)
        }
        // Rarely: most of a run should be membership, not leaving.
        if external && roll < 6 && chance(15, &rng) { return leave() }
        if external && roll < 9 {
            // The application commits what it read (commitSync), maybe from another task.
            let offsets = fetching.filter { _ in chance(50, &rng) }
            machine.recordCommitted(offsets)
            committed.merge(offsets) { _, new in new }
            log.append("application committed \(offsets)")
            return checkState(allowEpochDrop: false)
        }
        if external && roll < 11 {
            machine.forgetCoordinator()
            log.append("a commit forgot the coordinator")
            return checkState(allowEpochDrop: false)
        }
        if roll < 14 {
            switch action {
            case .wait, .reportError, .done: break
            default:
                let extra = machine.tick(now: now)
                guard extra == .nothing else { return "a second action while \(action) is in flight: \(extra)" }
            }
        }
        return answer()
    }

    /// Performs the current action with a random outcome and feeds the result.
    mutating func answer() -> String? {
        now += .milliseconds(Int.random(in: 0...3, using: &rng))
        // The application polls now and then, moving positions.
        if chance(30, &rng) {
            for tp in fetching.keys where chance(50, &rng) { fetching[tp, default: 0] += 1 }
        }
        switch action {
        case .wait(let until):
            if let until {
                now = max(now, until)
                return emit(machine.tick(now: now), after: "tick")
            }
            guard machine.phase == .stopped || machine.phase == .unsubscribed else {
                return "waits for nothing in phase \(machine.phase)"
            }
            return leave()
        case .reportError:
            return emit(machine.tick(now: now), after: "reported")
        case .findCoordinator:
            if chance(75, &rng) {
                let node = Int32.random(in: 1...2, using: &rng)
                return emit(machine.coordinatorFound(node, now: now), after: "coordinator \(node)")
            }
            let error = randomError()
            return emit(machine.coordinatorLookupFailed(error, now: now), after: "lookup failed")
        case .sendHeartbeat(let request, _):
            return respond(to: request)
        case .stopFetching(let tps):
            let positions = fetching.filter { tps.contains($0.key) }
            for tp in tps { fetching[tp] = nil }
            if expectedLost == nil { stoppedAt.merge(positions) { _, new in new } }
            return emit(machine.fetchingStopped(positions: positions, now: now), after: "stopped \(positions)")
        case .invokeRebalance(let event):
            return callback(event)
        case .readPositions(let tps):
            for tp in fetching.keys { fetching[tp, default: 0] += Int64.random(in: 0...3, using: &rng) }
            let positions = fetching.filter { tps.contains($0.key) }
            return emit(machine.positionsRead(positions, now: now), after: "positions \(positions)")
        case .commit(let offsets, let reason):
            let succeeded = chance(80, &rng)
            let next =
                succeeded ? machine.commitFinished(now: now) : machine.commitFailed(randomError(), now: now)
            if succeeded { committed.merge(offsets) { _, new in new } }
            if reason == .revoked { counts.revokedCommits += 1 }
            // A revoked partition's commit is done once its position at the stop was committed (or tried).
            for (tp, offset) in offsets where stoppedAt[tp] == offset { revokedUnfinished.remove(tp) }
            return emit(next, after: succeeded ? "committed" : "commit failed")
        case .fetchCommittedOffsets(let tps):
            if chance(85, &rng) {
                var offsets: [TopicPartition: Int64] = [:]
                for tp in tps where chance(70, &rng) { offsets[tp] = Int64.random(in: -1...50, using: &rng) }
                if machine.phase == .active {
                    for (tp, offset) in offsets where offset >= 0 { committed[tp] = offset }
                }
                return emit(machine.committedOffsetsFetched(offsets, now: now), after: "committed offsets \(offsets)")
            }
            return emit(machine.committedOffsetsFailed(randomError(), now: now), after: "offset fetch failed")
        case .startFetching(let starts):
            for (tp, start) in starts {
                if case .offset(let offset) = start { fetching[tp] = offset } else { fetching[tp] = 0 }
            }
            return emit(machine.fetchingStarted(now: now), after: "started")
        case .done:
            return nil
        case .nothing:
            return "the machine asked for nothing in answer to its own action"
        }
    }

    mutating func callback(_ event: RebalanceEvent) -> String? {
        switch event {
        case .assigned(let tps):
            told.formUnion(tps)
        case .revoked(let tps):
            told.subtract(tps)
            revokedCallbackDone.formUnion(tps)
            // The application commits in its callback now and then.
            if chance(30, &rng) {
                let offsets = stoppedAt.filter { tps.contains($0.key) }
                machine.recordCommitted(offsets)
                committed.merge(offsets) { _, new in new }
            }
            // Done now unless auto-commit has a moved position to commit.
            for tp in tps {
                let needsCommit = settings.autoCommit && stoppedAt[tp] != nil && committed[tp] != stoppedAt[tp]
                if !needsCommit { revokedUnfinished.remove(tp) }
            }
        case .lost(let tps):
            counts.lost += 1
            told.subtract(tps)
        }
        if case .lost = event { expectedLost = nil }
        return emit(machine.rebalanceCallbackFinished(now: now), after: "callback \(event) finished")
    }

    /// The coordinator's answer to a heartbeat.
    mutating func respond(to request: ConsumerGroupHeartbeatRequest) -> String? {
        func ok(_ epoch: Int32, _ assignment: Set<TopicPartition>) -> ConsumerGroupHeartbeatResponse {
            ConsumerGroupHeartbeatResponse(
                memberId: "m", memberEpoch: epoch, heartbeatIntervalMs: Int32.random(in: 10...300, using: &rng),
                assignment: GroupMembershipState.lists(assignment))
        }
        func error(_ code: ErrorCode) -> ConsumerGroupHeartbeatResponse {
            ConsumerGroupHeartbeatResponse(
                errorCode: code, memberId: request.memberId, memberEpoch: -1, heartbeatIntervalMs: 100, assignment: [])
        }
        if request.memberEpoch < 0 {
            let next =
                chance(80, &rng)
                ? machine.heartbeatResponse(ok(request.memberEpoch, []), now: now)
                : machine.heartbeatFailed(randomError(), now: now)
            return emit(next, after: "left")
        }
        let roll = Int.random(in: 0..<100, using: &rng)
        var response: ConsumerGroupHeartbeatResponse
        var applied = false
        var fenced = false
        if roll < 62 {
            var epoch = max(coordinatorEpoch, request.memberEpoch)
            if request.memberEpoch == 0 { epoch += 1 }
            if chance(45, &rng) {
                let subscribed = Set(request.subscribedTopics)
                let next = Set(Self.partitions.filter { subscribed.contains($0.topic) && chance(50, &rng) })
                if next != assignment {
                    assignment = next
                    epoch += 1
                }
            }
            coordinatorEpoch = epoch
            response = ok(epoch, assignment)
            applied = machine.phase == .active
        } else if roll < 67 && machine.memberEpoch > 1 {
            counts.staleAnswers += 1
            response = ok(machine.memberEpoch - 1, Set(Self.partitions.prefix(2)))
        } else if roll < 75 {
            response = error(.fencedMemberEpoch)
            fenced = true
        } else if roll < 79 {
            response = error(.unknownMemberId)
            fenced = true
        } else if roll < 85 {
            response = error(.notCoordinator)
        } else if roll < 89 {
            response = error(.coordinatorNotAvailable)
        } else if roll < 96 {
            return emit(machine.heartbeatFailed(randomError(), now: now), after: "heartbeat failed")
        } else if roll < 99 {
            response = error(.invalidRequest)
        } else {
            response = error(.invalidSessionTimeout)
        }
        if applied {
            let next = GroupMembershipState.set(response.assignment)
            let revoked = machine.owned.subtracting(next)
            revokedUnfinished.formUnion(revoked)
            revokedUnreleased.formUnion(revoked)
            revokedCallbackDone.subtract(revoked)
            for tp in revoked { stoppedAt[tp] = nil }
            mustNotOwn.subtract(next)
        }
        if fenced {
            mustNotOwn.formUnion(machine.owned)
            expectedLost = machine.owned.isEmpty ? nil : machine.owned
            revokedUnfinished = []
            revokedUnreleased = []
            mustRejoin = machine.phase == .active
        }
        let assigned = GroupMembershipState.set(response.assignment).sorted()
        log.append("answer \(response.errorCode) epoch \(response.memberEpoch) \(assigned)")
        let next = machine.heartbeatResponse(response, now: now)
        if fenced && machine.memberEpoch != 0 { return "still epoch \(machine.memberEpoch) after being fenced" }
        return emit(next, after: "answered", allowEpochDrop: fenced)
    }

    // MARK: Invariants

    /// Takes the machine's next action, checking it and the machine's state.
    mutating func emit(_ next: Action, after event: String, allowEpochDrop: Bool = false) -> String? {
        log.append("\(event) -> \(next)")
        action = next
        if let failure = check(next) { return failure }
        return checkState(allowEpochDrop: allowEpochDrop)
    }

    mutating func check(_ next: Action) -> String? {
        switch next {
        case .sendHeartbeat(let request, let coordinator):
            guard coordinator == machine.coordinator else { return "heartbeat to \(coordinator), not the coordinator" }
            let owned = GroupMembershipState.set(request.ownedPartitions)
            if request.memberEpoch < 0 {
                guard leaveRequested, !leaveSent else { return "a leave nobody asked for, or a second one" }
                let expected: Int32 = settings.instanceId == nil ? -1 : -2
                guard request.memberEpoch == expected else { return "left with epoch \(request.memberEpoch)" }
                guard revokedUnfinished.isEmpty else {
                    return "left before the revocation of \(revokedUnfinished) finished"
                }
                leaveSent = true
                counts.leaves += 1
                if settings.instanceId != nil { counts.staticLeaves += 1 }
                return nil
            }
            guard !leaveRequested else { return "a heartbeat after the leave was asked for" }
            if mustRejoin {
                guard request.memberEpoch == 0, owned.isEmpty else { return "a fenced member rejoins with \(request)" }
                mustRejoin = false
            }
            guard request.memberEpoch == machine.memberEpoch else {
                return "heartbeat with epoch \(request.memberEpoch), the member's is \(machine.memberEpoch)"
            }
            guard owned == machine.owned else { return "heartbeat claims \(owned), owned \(machine.owned)" }
            guard request.subscribedTopics == machine.topics else { return "heartbeat with other topics" }
            let early = revokedUnfinished.subtracting(owned)
            guard early.isEmpty else { return "released \(early) before their callback and commit finished" }
            let claimed = owned.intersection(mustNotOwn)
            guard claimed.isEmpty else { return "claims \(claimed), which it released or lost" }
            let released = revokedUnreleased.subtracting(owned)
            counts.releases += released.isEmpty ? 0 : 1
            mustNotOwn.formUnion(released)
            revokedUnreleased.subtract(released)
        case .commit(let offsets, let reason):
            if reason == .revoked {
                let keys = Set(offsets.keys)
                guard keys.isSubset(of: revokedCallbackDone) else {
                    return "committed revoked \(keys) before their callback finished"
                }
            }
        case .stopFetching(let tps):
            guard tps.isSubset(of: Set(fetching.keys)) else { return "stops \(tps), not all fetched" }
            if let expectedLost, tps != expectedLost { return "stops \(tps) after fencing took \(expectedLost)" }
            if expectedLost == nil && leaveRequested { return "takes a revocation after the leave was asked for" }
        case .fetchCommittedOffsets(let tps):
            if leaveRequested { return "takes new partitions \(tps) after the leave was asked for" }
        case .startFetching(let starts):
            guard !leaveRequested else { return "starts fetching after the leave was asked for" }
            let keys = Set(starts.keys)
            guard keys.isDisjoint(with: fetching.keys), keys.isDisjoint(with: machine.owned) else {
                return "starts \(keys) again"
            }
        case .invokeRebalance(.assigned(let tps)):
            guard Set(tps).isSubset(of: fetching.keys), told.isDisjoint(with: tps) else {
                return "assigned \(tps) not fetched or already told"
            }
        case .invokeRebalance(.revoked(let tps)), .invokeRebalance(.lost(let tps)):
            guard Set(tps).isDisjoint(with: fetching.keys) else { return "called back \(next) while still fetching" }
            if case .invokeRebalance(.revoked) = next, !Set(tps).isSubset(of: told) {
                return "revoked \(tps) it was never told about"
            }
        case .readPositions(let tps):
            guard tps == machine.owned else { return "reads positions of \(tps), owns \(machine.owned)" }
        case .wait:
            guard machine.phase == .active || machine.phase == .stopped else { break }
            guard Set(fetching.keys) == machine.owned, told == machine.owned else {
                let fetched = fetching.keys.sorted()
                return "idle with fetching \(fetched), told \(told.sorted()), owned \(machine.owned.sorted())"
            }
            guard revokedUnfinished.isEmpty else { return "idle with an unfinished revocation \(revokedUnfinished)" }
        case .done:
            guard leaveRequested, machine.memberEpoch == 0, machine.owned.isEmpty else {
                return "done without leaving, or still epoch \(machine.memberEpoch) owning \(machine.owned)"
            }
        case .nothing:
            return "the machine asked for nothing in answer to its own action"
        case .findCoordinator, .reportError:
            break
        }
        return nil
    }

    mutating func checkState(allowEpochDrop: Bool) -> String? {
        let epoch = machine.memberEpoch
        if epoch < lastEpoch && !(epoch == 0 && (allowEpochDrop || machine.phase == .done)) {
            return "epoch went back from \(lastEpoch) to \(epoch)"
        }
        lastEpoch = epoch
        let claimed = machine.owned.intersection(mustNotOwn)
        guard claimed.isEmpty else { return "owns \(claimed), which it released or lost" }
        return nil
    }
}
