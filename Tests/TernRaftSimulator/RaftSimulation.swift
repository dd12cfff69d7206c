import TernRaft

/// A seeded, single-threaded world of Raft nodes: a virtual clock, a network that delays, drops,
/// duplicates, reorders and partitions, a disk per node that loses unpersisted writes on a crash,
/// crashes and restarts, client proposals, graceful resignations, and hosts that snapshot their
/// state machine every K applied entries (so lagging and restarted nodes catch up by
/// FetchSnapshot), and observers (non-voting nodes that fetch the log; KIP-595). Invariants are
/// checked after every step; the first violation ends the run with a description.
public struct RaftSimulation {
    public struct Options: Sendable {
        /// Voters.
        public var nodes: Int
        /// Observers besides the voters: they fetch and apply the log but never vote or lead.
        public var observers = 0
        public var chaosMs: Int64
        /// After the chaos the network heals and every node restarts: a leader must be elected
        /// and a proposal applied on every node within this long.
        public var healBoundMs: Int64
        /// ... and a leader must be elected within this long of healing.
        public var leaderBoundMs: Int64 = 3000
        public var stepMs: Int64 = 5
        public var dropRate: Double
        public var duplicateRate: Double
        public var maxDelayMs: Int
        public var maxDiskLatencyMs: Int
        public var crashRate: Double
        public var partitionRate: Double
        public var proposeRate: Double
        public var pauseRate: Double = 0
        public var electionTimeoutMs: Int64 = 300
        public var fetchIntervalMs: Int64 = 50
        public var fetchTimeoutMs: Int64 = 600
        public var maxFetchEntries = 16
        /// Each host snapshots its state machine once it has applied this many entries past its
        /// last snapshot (0: never).
        public var snapshotEvery = 0
        public var snapshotChunkBytes = 64 * 1024
        /// Chance per step that the leader resigns (EndQuorumEpoch); half of them are followed by
        /// a crash, as a graceful shutdown.
        public var resignRate: Double = 0
        /// Options drawn from the seed: quorum size and fault rates vary between runs.
        public static func random(_ r: inout SimRandom) -> Options {
            var o = Options(
                nodes: r.chance(0.5) ? 3 : 5, chaosMs: Int64(r.int(1500...4000)), healBoundMs: 6000,
                dropRate: [0, 0.02, 0.1, 0.3][r.int(0...3)], duplicateRate: [0, 0.05, 0.2][r.int(0...2)],
                maxDelayMs: [1, 10, 40, 150][r.int(0...3)], maxDiskLatencyMs: [1, 10, 40, 120][r.int(0...3)],
                crashRate: [0, 0.003, 0.01, 0.03][r.int(0...3)], partitionRate: [0, 0.003, 0.01][r.int(0...2)],
                proposeRate: [0.05, 0.3][r.int(0...1)], maxFetchEntries: [8, 64][r.int(0...1)],
                pauseRate: [0, 0.002, 0.01][r.int(0...2)])
            // Raft is live only when an election round (vote request, fsync, answer, fsync) is
            // well inside the election timeout; a timeout shorter than the round splits votes
            // for ever (seed 260603 with 150 ms messages, 120 ms fsyncs and a 300 ms timeout).
            // The bounds scale with it.
            let round = Int64(4 * o.maxDelayMs + 2 * o.maxDiskLatencyMs)
            o.electionTimeoutMs = max(300, round)
            o.fetchTimeoutMs = 2 * o.electionTimeoutMs
            o.leaderBoundMs = 10 * o.electionTimeoutMs
            o.healBoundMs = o.leaderBoundMs + 3000
            o.snapshotEvery = [0, 3, 10, 40][r.int(0...3)]
            o.snapshotChunkBytes = [16, 50, 4096][r.int(0...2)]
            o.resignRate = [0, 0.001, 0.005][r.int(0...2)]
            o.observers = r.int(1...2)
            return o
        }

        public init(
            nodes: Int, chaosMs: Int64, healBoundMs: Int64, dropRate: Double, duplicateRate: Double, maxDelayMs: Int,
            maxDiskLatencyMs: Int, crashRate: Double, partitionRate: Double, proposeRate: Double,
            maxFetchEntries: Int = 16, pauseRate: Double = 0
        ) {
            self.pauseRate = pauseRate
            self.maxFetchEntries = maxFetchEntries
            self.nodes = nodes
            self.chaosMs = chaosMs
            self.healBoundMs = healBoundMs
            self.dropRate = dropRate
            self.duplicateRate = duplicateRate
            self.maxDelayMs = maxDelayMs
            self.maxDiskLatencyMs = maxDiskLatencyMs
            self.crashRate = crashRate
            self.partitionRate = partitionRate
            self.proposeRate = proposeRate
        }
    }

    /// What a run found.
    public struct Outcome: Sendable {
        public var violation: String?
        public var committed: Int
        public var elections: Int
        public var crashes: Int
        public var messages: Int
        public var refusals: Int
        public var snapshots = 0
        /// Snapshots fetched from a leader and installed.
        public var installs = 0
        public var resignations = 0
    }

    struct Envelope {
        var deliverAt: Tick
        var order: Int
        var from: RaftNodeId
        var to: RaftNodeId
        var message: RaftMessage
    }

    struct Node {
        var raft: RaftNode?
        var disk = SimDisk()
        var appliedCount: Int64 = 0
        /// The host's state machine after `appliedCount` entries.
        var state = SimStateMachine()
        /// End of the host's latest snapshot (taken, installed or loaded).
        var snapshotEnd: Int64 = 0
        var lastHighWatermark: Int64 = 0
        var restartAt: Tick?
        /// Paused (like SIGSTOP) until then: no ticks, no deliveries, no disk completions; it
        /// resumes with its old state and timers, as a stopped process does.
        var pausedUntil: Tick?
    }

    public let seed: UInt64
    public var options: Options
    var random: SimRandom
    public internal(set) var now: Tick = 0
    /// Every node: the voters, then the observers.
    let ids: [RaftNodeId]
    let voterIds: [RaftNodeId]
    var nodes: [RaftNodeId: Node] = [:]
    var inFlight: [Envelope] = []
    var nextOrder = 0
    /// Partition group per node: messages cross only within a group.
    var group: [RaftNodeId: Int] = [:]
    /// The global committed log: every entry any node applied, by offset.
    public internal(set) var committed: [RaftEntry] = []
    /// The epoch in which each committed entry was committed (non-decreasing).
    var committedEpoch: [Int64] = []
    /// The state machine after the entries below each offset, as the first host to reach it had it.
    var states: [Int64: SimStateMachine] = [0: SimStateMachine()]
    /// The leader of each epoch, as announced by role changes.
    var leaders: [Int64: RaftNodeId] = [:]
    var violation: String?
    var nextPayload: UInt64 = 0
    var stats = Outcome()
    /// Log of recent events, printed with a violation.
    var trace: [String] = []

    public init(seed: UInt64, options: Options? = nil) {
        self.seed = seed
        var r = SimRandom(seed: seed)
        self.options = options ?? Options.random(&r)
        random = r
        let voters = (1...self.options.nodes).map { RaftNodeId($0) }
        let count = self.options.nodes
        voterIds = voters
        ids = voters + (0..<self.options.observers).map { RaftNodeId(count + 1 + $0) }
        for id in ids {
            var n = Node()
            n.raft = makeRaft(id, persisted: RaftPersistentState())
            nodes[id] = n
            group[id] = 0
        }
    }

    func makeRaftConfig(_ id: RaftNodeId, seed: UInt64) -> RaftConfig {
        RaftConfig(
            id: id, voters: voterIds, electionTimeoutMs: options.electionTimeoutMs,
            fetchIntervalMs: options.fetchIntervalMs, fetchTimeoutMs: options.fetchTimeoutMs,
            maxFetchEntries: options.maxFetchEntries, snapshotChunkBytes: options.snapshotChunkBytes,
            seed: seed)
    }

    mutating func makeRaft(_ id: RaftNodeId, persisted: RaftPersistentState) -> RaftNode {
        RaftNode(config: makeRaftConfig(id, seed: random.next()), persisted: persisted, now: now)
    }

    /// The one command that replays this seed.
    public static func replayCommand(_ seed: UInt64) -> String {
        "RAFT_SEED=\(seed) swift test --filter TernRaftTests.SimulationTests/testReplaySeed"
    }

    // MARK: Running

    /// Runs the chaos phase, heals, and checks liveness.
    public mutating func run() -> Outcome {
        while now < options.chaosMs && violation == nil { chaosStep() }
        if violation == nil { healAndCheckLiveness() }
        var out = stats
        out.violation = violation.map { v in
            "seed \(seed) (\(options.nodes) voters, \(options.observers) observers): \(v)\nreplay: \(Self.replayCommand(seed))\nlast events:\n"
                + trace.suffix(25).joined(separator: "\n")
        }
        out.committed = committed.count
        return out
    }

    mutating func note(_ s: String) {
        trace.append("t=\(now) \(s)")
        if trace.count > 200 { trace.removeFirst(100) }
    }

    mutating func fail(_ s: String) {
        if violation == nil { violation = "t=\(now): \(s)" }
    }

    mutating func chaosStep() {
        if random.chance(options.crashRate) {
            // Mostly crash a node with writes in flight: that is where persistence bugs live.
            let writing = ids.filter { nodes[$0]?.raft != nil && nodes[$0]?.disk.pending.isEmpty == false }
            let pool = !writing.isEmpty && random.chance(0.8) ? writing : ids
            let id = pool[random.int(0...pool.count - 1)]
            if nodes[id]?.raft != nil { crash(id, restartAfter: Int64(random.int(5...1500))) }
        }
        if random.chance(options.partitionRate) {
            if random.chance(0.5) {
                for id in ids { group[id] = 0 }
                note("partition healed")
            } else {
                for id in ids { group[id] = random.int(0...1) }
                note("partition \(ids.map { "\($0):\(group[$0] ?? 0)" }.joined(separator: " "))")
            }
        }
        if random.chance(options.pauseRate) {
            let id = ids[random.int(0...ids.count - 1)]
            if nodes[id]?.raft != nil && !isPaused(id) {
                nodes[id]?.pausedUntil = now + Int64(random.int(100...2500))
                note("pause \(id) (\(nodes[id]?.raft?.role == .leader ? "leader" : "not leader"))")
            }
        }
        if random.chance(options.resignRate),
            let leader = ids.first(where: { nodes[$0]?.raft?.role == .leader && !isPaused($0) })
        {
            stats.resignations += 1
            note("resign \(leader)")
            feed(leader, .resign)
            if random.chance(0.5) { crash(leader, restartAfter: Int64(random.int(5...1500))) }
        }
        if random.chance(options.proposeRate) { proposeSomewhere() }
        advance()
    }

    /// One step of virtual time: restarts, disk completions, deliveries, ticks; then invariants.
    public mutating func advance() {
        now += options.stepMs
        for id in ids {
            if let at = nodes[id]?.restartAt, at <= now { restart(id) }
            if let at = nodes[id]?.pausedUntil, at <= now {
                nodes[id]?.pausedUntil = nil
                note("resume \(id)")
            }
        }
        for id in ids where !isPaused(id) { completeDiskWrites(id) }
        deliverDue()
        for id in ids where nodes[id]?.raft != nil && !isPaused(id) { feed(id, .tick) }
        checkAfterStep()
    }

    mutating func proposeSomewhere() {
        let leader = ids.first { nodes[$0]?.raft?.role == .leader }
        let target = leader ?? ids[random.int(0...ids.count - 1)]
        guard nodes[target]?.raft != nil, !isPaused(target) else { return }
        nextPayload += 1
        var payload: [UInt8] = []
        var v = nextPayload
        for _ in 0..<8 {
            payload.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
        feed(target, .propose([payload]))
    }

    mutating func healAndCheckLiveness() {
        options.dropRate = 0
        options.duplicateRate = 0
        for id in ids { group[id] = 0 }
        for id in ids where nodes[id]?.raft == nil { restart(id) }
        for id in ids { nodes[id]?.pausedUntil = nil }
        note("healed; all nodes up")
        let healedAt = now
        var probe: (epoch: Int64, offset: Int64)?
        var leaderSeen = false
        while violation == nil {
            leaderSeen = leaderSeen || ids.contains { nodes[$0]?.raft?.role == .leader }
            if !leaderSeen && now - healedAt > options.leaderBoundMs {
                fail("no leader elected within \(options.leaderBoundMs) ms of healing")
                return
            }
            if now - healedAt > options.healBoundMs {
                let roles = ids.map { id in
                    let r = nodes[id]?.raft
                    return
                        "\(id):\(r.map { "\($0.role)@\($0.epoch) hw=\($0.highWatermark) end=\($0.logEndOffset)" } ?? "down")"
                }
                fail(
                    "no proposal committed on every node within \(options.healBoundMs) ms of healing: "
                        + roles.joined(separator: ", "))
                return
            }
            if let p = probe {
                // Every applied entry is checked against the committed log, and the entry may be in
                // a snapshot by now.
                let done =
                    ids.allSatisfy { nodes[$0]?.raft.map { $0.appliedOffset > p.offset } == true }
                    && committed[Int(p.offset)].epoch == p.epoch
                if done {
                    checkLeaderSeesObservers(after: p.offset)
                    return
                }
                if let leader = ids.first(where: { nodes[$0]?.raft?.role == .leader }),
                    let e = nodes[leader]?.raft?.epoch, e > p.epoch
                {
                    probe = nil
                }
            }
            if probe == nil, let leader = ids.first(where: { nodes[$0]?.raft?.role == .leader }) {
                let effects = feed(leader, .propose([[0xFF]]))
                for case .proposed(let e, let first, _) in effects { probe = (e, first) }
            }
            advance()
        }
    }

    /// The leader lists every observer in its status (DescribeQuorum) once they fetch from it,
    /// with the progress they made: within a leader bound of the heal's commit.
    mutating func checkLeaderSeesObservers(after offset: Int64) {
        let observerIds = Array(ids.dropFirst(voterIds.count))
        guard !observerIds.isEmpty else { return }
        let until = now + options.leaderBoundMs
        while violation == nil {
            if let leader = ids.first(where: { nodes[$0]?.raft?.role == .leader }),
                let raft = nodes[leader]?.raft
            {
                let seen = raft.observerProgress
                if seen.map(\.id) == observerIds && seen.allSatisfy({ $0.endOffset > offset && $0.lastFetch != nil }) {
                    return
                }
                if seen.contains(where: { voterIds.contains($0.id) }) {
                    fail("leader \(leader) lists a voter among its observers: \(seen.map(\.id))")
                }
            }
            if now > until {
                let seen = ids.compactMap { nodes[$0]?.raft }.first { $0.role == .leader }?.observerProgress
                fail("the leader does not list observers \(observerIds) past \(offset): \(String(describing: seen))")
                return
            }
            advance()
        }
    }

    // MARK: Faults

    mutating func crash(_ id: RaftNodeId, restartAfter: Int64) {
        guard var n = nodes[id] else { return }
        n.raft = nil
        n.pausedUntil = nil
        // A host stores a write's snapshot durably (after every earlier write) before the rest of
        // that write: the crash may land in between.
        if let k = n.disk.pending.firstIndex(where: { $0.write.snapshot != nil }), random.chance(0.5) {
            for p in n.disk.pending[..<k] {
                if let problem = n.disk.perform(p.write) { fail("node \(id) \(problem)") }
            }
            let w = n.disk.pending[k].write
            if let s = w.snapshot, let problem = n.disk.storeSnapshot(s, of: w) { fail("node \(id) \(problem)") }
            note("crash \(id) after storing the snapshot of write \(w.seq), before its log part")
        }
        n.disk.pending = []  // never fsynced: gone
        n.restartAt = now + restartAfter
        nodes[id] = n
        stats.crashes += 1
        note("crash \(id) (disk \(n.disk.logStart)..<\(n.disk.logEnd), epoch \(n.disk.epoch))")
    }

    /// Restarts from the disk: the host loads its state machine from the snapshot, the node the
    /// snapshot and the log after it.
    mutating func restart(_ id: RaftNodeId) {
        guard var n = nodes[id] else { return }
        let persisted = n.disk.persistentState
        n.state = SimStateMachine()
        n.appliedCount = 0
        if let s = persisted.snapshot {
            n.state = checkSnapshot(s, on: id, "loaded") ?? SimStateMachine()
            n.appliedCount = s.endOffset
        }
        n.snapshotEnd = n.appliedCount
        n.lastHighWatermark = n.appliedCount
        n.raft = makeRaft(id, persisted: persisted)
        n.restartAt = nil
        nodes[id] = n
        note("restart \(id) from \(persisted.snapshot.map { "\($0.id) + " } ?? "")\(persisted.entries.count) entries")
    }

    // MARK: Network

    func isPaused(_ id: RaftNodeId) -> Bool { nodes[id]?.pausedUntil != nil }

    mutating func deliverDue() {
        // Messages to a paused node wait in its socket buffer until it resumes.
        let paused = Set(ids.filter { isPaused($0) })
        let due = inFlight.filter { $0.deliverAt <= now && !paused.contains($0.to) }.sorted {
            ($0.deliverAt, $0.order) < ($1.deliverAt, $1.order)
        }
        guard !due.isEmpty else { return }
        let t = now
        inFlight.removeAll { $0.deliverAt <= t && !paused.contains($0.to) }
        for e in due {
            guard nodes[e.to]?.raft != nil, group[e.from] == group[e.to] else { continue }
            feed(e.to, .message(from: e.from, e.message))
        }
    }

    mutating func send(from: RaftNodeId, to: RaftNodeId, _ message: RaftMessage) {
        stats.messages += 1
        if random.chance(options.dropRate) { return }
        let copies = random.chance(options.duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            inFlight.append(
                Envelope(
                    deliverAt: now + Int64(random.int(1...options.maxDelayMs)), order: nextOrder, from: from, to: to,
                    message: message))
            nextOrder += 1
        }
    }
}

extension RaftSimulation.Outcome: SimulationOutcome {
    public init() { self.init(violation: nil, committed: 0, elections: 0, crashes: 0, messages: 0, refusals: 0) }

    public mutating func add(_ other: Self) {
        committed += other.committed
        elections += other.elections
        crashes += other.crashes
        messages += other.messages
        refusals += other.refusals
        snapshots += other.snapshots
        installs += other.installs
        resignations += other.resignations
    }
}
