import TernRaft

/// A seeded, single-threaded world of Raft nodes: a virtual clock, a network that delays, drops,
/// duplicates, reorders and partitions, a disk per node that loses unpersisted writes on a crash,
/// crashes and restarts, and client proposals. Invariants are checked after every step; the first
/// violation ends the run with a description.
public struct RaftSimulation {
    public struct Options: Sendable {
        public var nodes: Int
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
    }

    struct Envelope {
        var deliverAt: Tick
        var order: Int
        var from: RaftNodeId
        var to: RaftNodeId
        var message: RaftMessage
    }

    struct Disk {
        var durable = RaftPersistentState()
        /// Writes handed to the disk, not yet fsynced: lost on a crash.
        var pending: [(dueAt: Tick, write: RaftWrite)] = []
    }

    struct Node {
        var raft: RaftNode?
        var disk = Disk()
        var appliedCount: Int64 = 0
        var lastHighWatermark: Int64 = 0
        var restartAt: Tick?
        /// Paused (like SIGSTOP) until then: no ticks, no deliveries, no disk completions; it
        /// resumes with its old state and timers, as a stopped process does.
        var pausedUntil: Tick?
    }

    public let seed: UInt64
    public var options: Options
    var random: SimRandom
    public private(set) var now: Tick = 0
    let ids: [RaftNodeId]
    var nodes: [RaftNodeId: Node] = [:]
    var inFlight: [Envelope] = []
    var nextOrder = 0
    /// Partition group per node: messages cross only within a group.
    var group: [RaftNodeId: Int] = [:]
    /// The global committed log: every entry any node applied, by offset.
    public private(set) var committed: [RaftEntry] = []
    /// The epoch in which each committed entry was committed (non-decreasing).
    var committedEpoch: [Int64] = []
    /// The leader of each epoch, as announced by role changes.
    var leaders: [Int64: RaftNodeId] = [:]
    var violation: String?
    var nextPayload: UInt64 = 0
    var stats = Outcome(violation: nil, committed: 0, elections: 0, crashes: 0, messages: 0, refusals: 0)
    /// Log of recent events, printed with a violation.
    var trace: [String] = []

    public init(seed: UInt64, options: Options? = nil) {
        self.seed = seed
        var r = SimRandom(seed: seed)
        self.options = options ?? Options.random(&r)
        random = r
        ids = (1...self.options.nodes).map { RaftNodeId($0) }
        for id in ids {
            var n = Node()
            n.raft = makeRaft(id, persisted: RaftPersistentState())
            nodes[id] = n
            group[id] = 0
        }
    }

    func makeRaftConfig(_ id: RaftNodeId, seed: UInt64) -> RaftConfig {
        RaftConfig(
            id: id, voters: ids, electionTimeoutMs: options.electionTimeoutMs,
            fetchIntervalMs: options.fetchIntervalMs, fetchTimeoutMs: options.fetchTimeoutMs,
            maxFetchEntries: options.maxFetchEntries,
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
            "seed \(seed) (\(options.nodes) nodes): \(v)\nreplay: \(Self.replayCommand(seed))\nlast events:\n"
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
                let done = ids.allSatisfy { id in
                    guard let r = nodes[id]?.raft, r.appliedOffset > p.offset else { return false }
                    return r.log[Int(p.offset)].epoch == p.epoch
                }
                if done { return }
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

    // MARK: Faults

    mutating func crash(_ id: RaftNodeId, restartAfter: Int64) {
        guard var n = nodes[id] else { return }
        n.raft = nil
        n.pausedUntil = nil
        n.disk.pending = []  // never fsynced: gone
        n.restartAt = now + restartAfter
        nodes[id] = n
        stats.crashes += 1
        note("crash \(id) (disk end \(n.disk.durable.entries.count), epoch \(n.disk.durable.epoch))")
    }

    mutating func restart(_ id: RaftNodeId) {
        guard var n = nodes[id] else { return }
        n.raft = makeRaft(id, persisted: n.disk.durable)
        n.restartAt = nil
        n.appliedCount = 0
        n.lastHighWatermark = 0
        nodes[id] = n
        note("restart \(id)")
    }

    // MARK: Disk and network

    mutating func completeDiskWrites(_ id: RaftNodeId) {
        guard var n = nodes[id], n.raft != nil else { return }
        var lastSeq: UInt64?
        while let first = n.disk.pending.first, first.dueAt <= now {
            n.disk.pending.removeFirst()
            let w = first.write
            let old = n.disk.durable.entries
            guard w.fromOffset >= 0, w.fromOffset <= Int64(old.count) else {
                fail("node \(id) write \(w.seq) truncates to \(w.fromOffset) beyond its disk log of \(old.count)")
                return
            }
            var entries = Array(old[..<Int(w.fromOffset)])
            entries.append(contentsOf: w.entries)
            // A committed entry, once on a disk, stays there.
            let top = min(old.count, committed.count)
            if Int(w.fromOffset) < top {
                for o in Int(w.fromOffset)..<top where old[o] == committed[o] {
                    if o >= entries.count || entries[o] != committed[o] {
                        fail("node \(id) write \(w.seq) removes or changes committed entry \(o) from its disk")
                    }
                }
            }
            n.disk.durable = RaftPersistentState(epoch: w.epoch, votedFor: w.votedFor, entries: entries)
            lastSeq = w.seq
        }
        nodes[id] = n
        if let seq = lastSeq { feed(id, .persisted(seq: seq)) }
    }

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

    /// Steps node `id` with `input` and performs its effects; returns them.
    @discardableResult
    public mutating func feed(_ id: RaftNodeId, _ input: RaftInput) -> [RaftEffect] {
        guard var n = nodes[id], var raft = n.raft else { return [] }
        let effects = raft.step(input, now: now)
        n.raft = raft
        for effect in effects {
            switch effect {
            case .send(let to, let m):
                send(from: id, to: to, m)
            case .persist(let w):
                let last = n.disk.pending.last?.dueAt ?? now
                n.disk.pending.append((max(last, now + Int64(random.int(1...options.maxDiskLatencyMs))), w))
            case .apply(let offset, let entries):
                if offset != n.appliedCount {
                    fail("node \(id) applies from \(offset) but has applied \(n.appliedCount) entries")
                }
                for (i, e) in entries.enumerated() {
                    let o = Int(offset) + i
                    if o < committed.count {
                        if committed[o] != e {
                            fail("node \(id) applies \(e) at \(o), but \(committed[o]) was committed there")
                        }
                    } else if o == committed.count {
                        // The first node to apply an entry is the leader that committed it (a
                        // follower learns of a commit from the leader): its epoch is the
                        // entry's commit epoch.
                        committed.append(e)
                        committedEpoch.append(raft.epoch)
                    } else {
                        fail("node \(id) applies offset \(o) past the committed log end \(committed.count)")
                    }
                }
                n.appliedCount = offset + Int64(entries.count)
            case .roleChanged(let role, let epoch, _):
                note("node \(id) -> \(role) epoch \(epoch)")
                if role == .leader {
                    stats.elections += 1
                    if let other = leaders[epoch], other != id {
                        fail("two leaders in epoch \(epoch): \(other) and \(id)")
                    }
                    leaders[epoch] = id
                    // Leader completeness: a leader of epoch E holds every entry committed in an
                    // epoch before E. (A candidate paused in an old epoch may still win it after
                    // later epochs committed more: those it need not hold.)
                    let log = raft.log
                    let required = committedEpoch.firstIndex { $0 >= epoch } ?? committedEpoch.count
                    if log.count < required || Array(log[..<required]) != Array(committed[..<required]) {
                        fail(
                            "leader \(id) of epoch \(epoch) lacks entries committed before it (log \(log.count), "
                                + "committed before epoch \(epoch): \(required))")
                    }
                }
            case .refused:
                stats.refusals += 1
            case .proposed, .proposalRejected:
                break
            }
        }
        nodes[id] = n
        return effects
    }

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
            if raft.durableEnd > Int64(n.disk.durable.entries.count) {
                fail(
                    "node \(id) believes \(raft.durableEnd) entries durable; its disk holds \(n.disk.durable.entries.count)"
                )
            }
            if hw > n.lastHighWatermark {
                // The newly committed part of this node's log is the global committed log.
                for o in Int(n.lastHighWatermark)..<Int(hw) where o < committed.count && raft.log[o] != committed[o] {
                    fail("node \(id) commits \(raft.log[o]) at \(o), but \(committed[o]) was committed there")
                }
            }
            n.lastHighWatermark = hw
            nodes[id] = n
        }
    }
}
