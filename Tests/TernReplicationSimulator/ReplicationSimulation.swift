import TernBroker
import TernRaft
import TernRaftSimulator
import TernWire

/// A seeded, single-threaded world of partition replicas (``PartitionReplica``) on three
/// brokers, a controller, producers and consumers: a virtual clock, a network that delays, drops,
/// duplicates, reorders and partitions, a log per replica that loses what was not fsynced when
/// its broker crashes, crashes and restarts, pauses (SIGSTOP), and fencing by session timeout.
/// Invariants are checked after every step; the first violation ends the run with a description
/// and the command that replays it.
///
/// The controller is one reliable sequencer of metadata decisions — the real
/// ``ControllerDecisions`` over a real ``MetadataImage`` — reached over the same faulty network:
/// the metadata quorum that would replicate those decisions is proven by the Raft simulator, so
/// here it neither crashes nor loses a committed decision.
public struct ReplicationSimulation {
    public struct Options: Sendable {
        public var brokers = 3
        public var partitions: Int32 = 1
        public var minInSyncReplicas = 2
        public var chaosMs: Int64 = 3000
        public var stepMs: Int64 = 5
        public var dropRate = 0.0
        public var duplicateRate = 0.0
        public var maxDelayMs = 10
        public var maxDiskLatencyMs = 10
        public var crashRate = 0.0
        public var partitionRate = 0.0
        public var pauseRate = 0.0
        /// Chance per step that a producer sends a batch.
        public var produceRate = 0.3
        /// Chance per step that a consumer reads.
        public var consumeRate = 0.2
        public var sessionTimeoutMs: Int64 = 600
        public var heartbeatMs: Int64 = 50
        public var replicaLagTimeMaxMs: Int64 = 400
        public var maxFetchRecords = 16
        /// After the chaos everything heals and restarts: an `acks=all` record must be
        /// acknowledged and every replica back in sync within this long.
        public var healBoundMs: Int64 = 20_000
        /// `unclean.leader.election.enable`: the controller elects an out-of-sync replica when no
        /// in-sync one is left (the durability promise does not hold then; a test shows it).
        public var uncleanLeaderElection = false
        /// Print every traced event as it happens (replaying one seed).
        public var verbose = false

        public init() {}

        /// Options drawn from the seed: partition count, min ISR and fault rates vary.
        public static func random(_ r: inout SimRandom) -> Options {
            var o = Options()
            o.partitions = r.chance(0.5) ? 1 : 2
            o.minInSyncReplicas = r.chance(0.7) ? 2 : 1
            o.chaosMs = Int64(r.int(1500...4000))
            o.dropRate = [0, 0.02, 0.1, 0.3][r.int(0...3)]
            o.duplicateRate = [0, 0.05, 0.2][r.int(0...2)]
            o.maxDelayMs = [1, 10, 40, 150][r.int(0...3)]
            o.maxDiskLatencyMs = [1, 10, 40, 120][r.int(0...3)]
            o.crashRate = [0, 0.003, 0.01, 0.03][r.int(0...3)]
            o.partitionRate = [0, 0.003, 0.01][r.int(0...2)]
            o.pauseRate = [0, 0.002, 0.01][r.int(0...2)]
            o.produceRate = [0.05, 0.3, 0.8][r.int(0...2)]
            // A follower that is caught up fetches once per round trip (fetch, answer, backoff);
            // the lag limit must cover a few of them or in-sync followers flap in and out of
            // the ISR for ever (seed 90 with 150 ms messages and a 200 ms limit), as Kafka's
            // 30 s default covers its fetch long-poll.
            let roundTrip = Int64(2 * o.maxDelayMs + o.maxDiskLatencyMs + 20)
            o.replicaLagTimeMaxMs = max([200, 400, 1000][r.int(0...2)], 3 * roundTrip)
            o.sessionTimeoutMs = [300, 600, 1500][r.int(0...2)]
            // A backlog of a few hundred records at one record per round trip takes minutes:
            // fetches carry a batch's worth (seed 87 with 1 record per fetch did not catch up).
            o.maxFetchRecords = [8, 64][r.int(0...1)]
            return o
        }
    }

    /// What a run found.
    public struct Outcome: Sendable {
        public var violation: String?
        public var acked = 0
        public var visible = 0
        public var leaderChanges = 0
        public var crashes = 0
        public var truncations = 0
        public var isrProposals = 0
        public var messages = 0

        public init() {}
    }

    /// A record in a simulated log: the epoch its leader stamped and a unique payload.
    struct SimRecord: Hashable, CustomStringConvertible {
        var epoch: Int32
        var payload: UInt64
        var description: String { "r\(payload)@e\(epoch)" }
    }

    /// One replica's log: records, how many are fsynced, and fsyncs under way (each covers the
    /// log up to `upTo` as it was when it was asked for).
    struct SimLog {
        var records: [SimRecord] = []
        var durable = 0
        var syncs: [(dueAt: Tick, upTo: Int)] = []
    }

    enum Message {
        case register(incarnation: UInt64)
        case registered(incarnation: UInt64, brokerEpoch: Int64, version: Int)
        case heartbeat(brokerEpoch: Int64)
        /// The controller no longer knows this broker epoch (a late registration of an earlier
        /// run replaced it): register again.
        case heartbeatRefused(brokerEpoch: Int64)
        case metadata(version: Int, partitions: [MetadataImage.Partition])
        case alterIsr(partition: Int32, leaderEpoch: Int32, partitionEpoch: Int32, isr: [Int32])
        case fetch(partition: Int32, ReplicaFetch)
        case fetchReply(partition: Int32, ReplicaFetchReply, records: [SimRecord])
        case produce(partition: Int32, id: UInt64, payloads: [UInt64], acks: ProduceAcks, clientEpoch: Int32?)
    }

    struct Envelope {
        var deliverAt: Tick
        var order: Int
        var from: Int32
        var to: Int32
        var message: Message
    }

    struct Broker {
        var up = true
        var incarnation: UInt64 = 0
        var brokerEpoch: Int64?
        /// Metadata older than this broker's registration is ignored: a restarted broker must
        /// not act on a state its previous run was given.
        var registeredVersion = Int.max
        var replicas: [Int32: PartitionReplica] = [:]
        var logs: [Int32: SimLog] = [:]
        var restartAt: Tick?
        var pausedUntil: Tick?
        var nextHeartbeatAt: Tick = 0
        var nextRegisterAt: Tick = 0
        /// `acks=all` produces appended and waiting: id → partition, records.
        var waitingProduces: [UInt64: (partition: Int32, records: [SimRecord])] = [:]
        /// Last high watermark seen per partition while leading in `leaderEpoch`.
        var leaderHighWatermark: [Int32: (epoch: Int32, hw: Int64)] = [:]
    }

    struct Consumer {
        var leaderEpoch: Int32 = 0
        var highWatermark: Int64 = 0
    }

    public let seed: UInt64
    public var options: Options
    var random: SimRandom
    public internal(set) var now: Tick = 0
    let brokerIds: [Int32]
    static let controllerId: Int32 = 0
    static let clientId: Int32 = 99
    var brokers: [Int32: Broker] = [:]
    var inFlight: [Envelope] = []
    var nextOrder = 0
    /// Partition group per node (controller included): messages cross only within a group. The
    /// clients reach every node.
    var group: [Int32: Int] = [:]

    // Controller.
    var image = MetadataImage()
    var topicId = MetadataUUID(high: 0, low: 0)
    var version = 0
    var broadcastVersion = -1
    var nextBroadcastAt: Tick = 0
    var lastHeartbeatMs: [Int32: Int64] = [:]

    // History for the invariants.
    /// Per partition, every record acknowledged for `acks=all`, by offset.
    var acked: [Int32: [Int64: SimRecord]] = [:]
    /// Per partition, the records consumers have seen (below the high watermark), by offset.
    var visible: [Int32: [SimRecord]] = [:]
    var consumers: [Int32: Consumer] = [:]
    /// Who appended in each (partition, leader epoch): broker and incarnation.
    var writerOfEpoch: [Int32: [Int32: (broker: Int32, incarnation: UInt64)]] = [:]
    var nextPayload: UInt64 = 0
    var nextProduceId: UInt64 = 0
    var nextIncarnation: UInt64 = 1
    var violation: String?
    var stats = Outcome()
    var trace: [String] = []

    public init(seed: UInt64, options: Options? = nil) {
        self.seed = seed
        var r = SimRandom(seed: seed)
        self.options = options ?? Options.random(&r)
        random = r
        brokerIds = (1...Int32(self.options.brokers)).map { $0 }
        group[Self.controllerId] = 0
        for id in brokerIds { group[id] = 0 }
        bootstrapCluster()
    }

    /// The one command that replays this seed.
    public static func replayCommand(_ seed: UInt64) -> String {
        "REPLICATION_SEED=\(seed) swift test --filter TernBrokerTests.ReplicationSimulationTests/testReplaySeed"
    }

    // MARK: Running

    /// Runs the chaos phase, heals, and checks liveness and the final state.
    public mutating func run() -> Outcome {
        while now < options.chaosMs && violation == nil { chaosStep() }
        if violation == nil { healAndCheckLiveness() }
        var out = stats
        out.acked = acked.values.map(\.count).reduce(0, +)
        out.visible = visible.values.map(\.count).reduce(0, +)
        out.violation = violation.map { v in
            "seed \(seed) (\(options.partitions) partitions, min.insync.replicas \(options.minInSyncReplicas)): \(v)"
                + "\nreplay: \(Self.replayCommand(seed))\nlast events:\n" + trace.suffix(30).joined(separator: "\n")
        }
        return out
    }

    mutating func note(_ s: String) {
        trace.append("t=\(now) \(s)")
        if options.verbose { print("t=\(now) \(s)") }
        if trace.count > 300 { trace.removeFirst(150) }
    }

    mutating func fail(_ s: String) {
        if violation == nil { violation = "t=\(now): \(s)" }
    }

    mutating func chaosStep() {
        if random.chance(options.crashRate) {
            let id = brokerIds[random.int(0...brokerIds.count - 1)]
            if brokers[id]?.up == true { crash(id, restartAfter: Int64(random.int(5...1500))) }
        }
        if random.chance(options.partitionRate) {
            if random.chance(0.5) {
                for id in group.keys { group[id] = 0 }
                note("partition healed")
            } else {
                for id in group.keys.sorted() { group[id] = random.int(0...1) }
                note("partition " + group.keys.sorted().map { "\($0):\(group[$0] ?? 0)" }.joined(separator: " "))
            }
        }
        if random.chance(options.pauseRate) {
            let id = brokerIds[random.int(0...brokerIds.count - 1)]
            if brokers[id]?.up == true && brokers[id]?.pausedUntil == nil {
                brokers[id]?.pausedUntil = now + Int64(random.int(100...2500))
                note("pause \(id)")
            }
        }
        if random.chance(options.produceRate) { produceSomewhere() }
        if random.chance(options.consumeRate) { consumeSomewhere() }
        advance()
    }

    /// One step of virtual time: restarts, disk completions, deliveries, ticks; then invariants.
    mutating func advance() {
        now += options.stepMs
        for id in brokerIds {
            if let at = brokers[id]?.restartAt, at <= now { restart(id) }
            if let at = brokers[id]?.pausedUntil, at <= now {
                brokers[id]?.pausedUntil = nil
                note("resume \(id)")
            }
        }
        for id in brokerIds where isRunning(id) { completeSyncs(id) }
        deliverDue()
        controllerTick()
        for id in brokerIds where isRunning(id) { brokerTick(id) }
        checkAfterStep()
    }

    func isRunning(_ id: Int32) -> Bool { brokers[id]?.up == true && brokers[id]?.pausedUntil == nil }

    // MARK: Clients

    mutating func produceSomewhere() {
        let p = Int32(random.int(0...Int(options.partitions) - 1))
        // Mostly to a broker that believes it leads (a stale one too), sometimes anywhere.
        let leading = brokerIds.filter { brokers[$0]?.replicas[p]?.role == .leader }
        let pool = !leading.isEmpty && random.chance(0.85) ? leading : brokerIds
        let target = pool[random.int(0...pool.count - 1)]
        let count = random.int(1...3)
        var payloads: [UInt64] = []
        for _ in 0..<count {
            nextPayload += 1
            payloads.append(nextPayload)
        }
        nextProduceId += 1
        let acks: ProduceAcks = random.chance(0.7) ? .all : .leader
        let epoch: Int32? = random.chance(0.5) ? brokers[target]?.replicas[p]?.leaderEpoch : nil
        send(
            from: Self.clientId, to: target,
            .produce(partition: p, id: nextProduceId, payloads: payloads, acks: acks, clientEpoch: epoch))
    }

    /// A consumer reads what a broker that believes it leads shows it: the high watermark must
    /// not go back, and every record below it must match what consumers saw before.
    mutating func consumeSomewhere() {
        let p = Int32(random.int(0...Int(options.partitions) - 1))
        let leading = brokerIds.filter { isRunning($0) && brokers[$0]?.replicas[p]?.role == .leader }
        guard !leading.isEmpty else { return }
        let id = leading[random.int(0...leading.count - 1)]
        guard let replica = brokers[id]?.replicas[p], let log = brokers[id]?.logs[p] else { return }
        var consumer = consumers[p] ?? Consumer()
        switch replica.consumerView(clientLeaderEpoch: consumer.leaderEpoch) {
        case .failure(.fencedLeaderEpoch):
            // The consumer is behind: it refreshes its metadata.
            consumer.leaderEpoch = image.partition(topicId, p)?.leaderEpoch ?? consumer.leaderEpoch
        case .failure:
            break
        case .success(let view):
            if view.highWatermark < consumer.highWatermark {
                fail(
                    "p\(p): consumer saw high watermark \(consumer.highWatermark), then \(view.highWatermark) from "
                        + "broker \(id) at leader epoch \(view.leaderEpoch)")
            }
            if view.highWatermark > Int64(log.records.count) {
                fail("p\(p): broker \(id) shows high watermark \(view.highWatermark) past its log \(log.records.count)")
                return
            }
            if view.highWatermark > Int64(log.durable) {
                fail("p\(p): broker \(id) shows high watermark \(view.highWatermark) past its fsynced \(log.durable)")
            }
            observeVisible(p, log.records[0..<Int(view.highWatermark)], from: id)
            consumer.highWatermark = max(consumer.highWatermark, view.highWatermark)
        }
        consumers[p] = consumer
    }

    /// Records a consumer read: they must match what was seen and acknowledged before.
    mutating func observeVisible(_ p: Int32, _ records: ArraySlice<SimRecord>, from id: Int32) {
        var seen = visible[p] ?? []
        for (o, r) in records.enumerated() {
            if o < seen.count {
                if seen[o] != r { fail("p\(p): broker \(id) shows \(r) at \(o) where consumers saw \(seen[o])") }
            } else {
                if let a = acked[p]?[Int64(o)], a != r {
                    fail("p\(p): broker \(id) shows \(r) at \(o), where \(a) was acknowledged")
                }
                seen.append(r)
            }
        }
        visible[p] = seen
    }

    // MARK: Network

    mutating func deliverDue() {
        let held = Set(brokerIds.filter { brokers[$0]?.pausedUntil != nil })
        let due = inFlight.filter { $0.deliverAt <= now && !held.contains($0.to) }.sorted {
            ($0.deliverAt, $0.order) < ($1.deliverAt, $1.order)
        }
        guard !due.isEmpty else { return }
        let t = now
        inFlight.removeAll { $0.deliverAt <= t && !held.contains($0.to) }
        for e in due {
            let crosses =
                e.from == Self.clientId || e.to == Self.clientId || group[e.from] == group[e.to]
            guard crosses else { continue }
            if e.to == Self.controllerId {
                controllerReceive(from: e.from, e.message)
            } else if brokers[e.to]?.up == true {
                brokerReceive(e.to, from: e.from, e.message)
            }
        }
    }

    mutating func send(from: Int32, to: Int32, _ message: Message) {
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

/// ``SimRandom`` as a `RandomNumberGenerator`, for the controller's placement and topic ids.
struct SimGenerator: RandomNumberGenerator {
    var random: SimRandom
    mutating func next() -> UInt64 { random.next() }
}

extension ReplicationSimulation.Outcome: SimulationOutcome {
    public mutating func add(_ other: Self) {
        acked += other.acked
        visible += other.visible
        leaderChanges += other.leaderChanges
        crashes += other.crashes
        truncations += other.truncations
        isrProposals += other.isrProposals
        messages += other.messages
    }
}
