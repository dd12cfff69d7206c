import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// Seeded random sequences of controller decisions (registrations, heartbeats and session
/// expiry, fencing, unfencing, controlled shutdowns, topic creation and deletion, ISR changes,
/// rebalances, config changes), each applied to the image, with the metadata invariants checked
/// after every step. A failure names its seed; replay one with
/// `TERN_CONTROLLER_SEED=<seed> swift test --skip-build --filter TernBrokerTests.ControllerPropertyTests`.
final class ControllerPropertyTests: XCTestCase {
    typealias D = ControllerDecisions

    /// Seeds to run: the one in `TERN_CONTROLLER_SEED`, or 1...`TERN_CONTROLLER_SEEDS` (for long
    /// runs), or 1...`count`.
    func seeds(_ count: UInt64) -> [UInt64] {
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["TERN_CONTROLLER_SEED"], let seed = UInt64(text) { return [seed] }
        if let text = environment["TERN_CONTROLLER_SEEDS"], let many = UInt64(text), many > 0 { return Array(1...many) }
        return Array(1...count)
    }

    /// One simulated run: the image, the committed log, and the controller's own soft state.
    struct Run {
        var generator: SeededGenerator
        var image = MetadataImage()
        var log: [MetadataRecord] = []
        var nowMs: Int64 = 0
        var heartbeats: [Int32: Int64] = [:]
        var incarnations: [Int32: UInt64] = [:]
        var topicCounter = 0
        let nodes: [Int32] = [1, 2, 3, 4, 5]
        let sessionTimeoutMs: Int64 = 9_000

        init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

        mutating func commit(_ records: [MetadataRecord]) throws {
            for record in records {
                // Every record the controller proposes survives the log's codec unchanged.
                XCTAssertEqual(try MetadataRecord.decode(record.encoded()), record)
            }
            image = try image.applying(records)
            log += records
        }

        mutating func pick<T>(_ values: [T]) -> T? { values.randomElement(using: &generator) }

        mutating func register(_ node: Int32, newIncarnation: Bool) throws {
            if newIncarnation || incarnations[node] == nil { incarnations[node, default: 0] += 1 }
            let registration = try D.registerBroker(
                image, nodeId: node, incarnationId: MetadataUUID(high: UInt64(node), low: incarnations[node]!),
                listeners: [.init(name: "PLAINTEXT", host: "127.0.0.1", port: UInt16(9000 + node))], roles: [.broker])
            try commit(registration.records)
            heartbeats[node] = nowMs
        }

        mutating func unfence(_ node: Int32) throws {
            guard let broker = image.broker(node) else { return }
            try commit(
                D.unfenceBroker(
                    image, nodeId: node, brokerEpoch: broker.brokerEpoch, metadataOffset: Int64(log.count),
                    logEndOffset: Int64(log.count)))
            heartbeats[node] = nowMs
        }

        /// A leader lets every unfenced replica back into its ISR (they caught up).
        mutating func growIsrs(all: Bool) throws {
            for topic in image.sortedTopics {
                for partition in topic.sortedPartitions where partition.leader != -1 {
                    guard all || Bool.random(using: &generator) else { continue }
                    let current = image.partition(topic.id, partition.partition)!
                    let isr = current.replicas.filter { current.isr.contains($0) || image.isUnfenced($0) }
                    try commit(
                        D.alterIsr(
                            image, topicId: topic.id, partition: current.partition, leader: current.leader,
                            leaderEpoch: current.leaderEpoch, partitionEpoch: current.partitionEpoch, newIsr: isr))
                }
            }
        }

        mutating func createTopic(maxPartitions: Int32 = 6) throws {
            topicCounter += 1
            let name = "t\(topicCounter)"
            let partitions = Int32.random(in: 1...maxPartitions, using: &generator)
            let factor = Int16.random(in: 1...3, using: &generator)
            do {
                try commit(
                    D.createTopic(
                        image, name: name, partitions: partitions, replicationFactor: factor, using: &generator))
            } catch let error as ControllerError where error.code == .invalidReplicationFactor {
                XCTAssertLessThan(image.unfencedBrokerIds.count, Int(factor), "\(error)")
            }
        }

        /// One random step.
        mutating func step() throws {
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<12:
                if let node = pick(nodes) { try register(node, newIncarnation: Bool.random(using: &generator)) }
            case 12..<30:
                // Time passes; most live brokers heartbeat, some go quiet; the controller fences the silent.
                nowMs += Int64.random(in: 1_000...6_000, using: &generator)
                for node in image.unfencedBrokerIds where Int.random(in: 0..<10, using: &generator) < 8 {
                    heartbeats[node] = nowMs
                }
                try commit(
                    D.fenceExpiredBrokers(
                        image, lastHeartbeatMs: heartbeats, nowMs: nowMs, sessionTimeoutMs: sessionTimeoutMs))
            case 30..<45:
                if let node = pick(image.sortedBrokers.filter(\.fenced).map(\.nodeId)) { try unfence(node) }
            case 45..<52:
                if let node = pick(image.unfencedBrokerIds) { try commit(D.fenceBroker(image, nodeId: node)) }
            case 52..<57:
                if let broker = pick(image.sortedBrokers.filter { !$0.fenced }) {
                    try commit(D.controlledShutdown(image, nodeId: broker.nodeId, brokerEpoch: broker.brokerEpoch))
                }
            case 57..<75: try createTopic()
            case 75..<82:
                if let topic = pick(image.sortedTopics.map(\.name)) { try commit(D.deleteTopic(image, name: topic)) }
            case 82..<90: try growIsrs(all: false)
            case 90..<95: try commit(D.rebalancePreferredLeaders(image))
            default:
                if let topic = pick(image.sortedTopics.map(\.name)) {
                    let value = String(Int.random(in: 1...1_000_000, using: &generator))
                    try commit(D.alterTopicConfigs(image, name: topic, set: ["retention.ms": value]))
                }
            }
        }
    }

    struct PartitionKey: Hashable {
        var topic: MetadataUUID
        var partition: Int32
    }
    typealias Epochs = [PartitionKey: (leader: Int32, partition: Int32)]

    /// The invariants that hold after every committed step; returns the epochs to compare next time.
    @discardableResult
    func check(_ image: MetadataImage, after previous: Epochs, _ context: @autoclosure () -> String) -> Epochs {
        var epochs: Epochs = [:]
        for topic in image.sortedTopics {
            for p in topic.sortedPartitions {
                let key = PartitionKey(topic: topic.id, partition: p.partition)
                // Built only when an assertion fails (their messages are autoclosures).
                var what: String { "\(context()) \(topic.name)-\(p.partition) \(p)" }
                XCTAssertEqual(Set(p.replicas).count, p.replicas.count, "replicas repeat: \(what)")
                XCTAssertFalse(p.isr.isEmpty, "empty ISR: \(what)")
                XCTAssertEqual(Set(p.isr).count, p.isr.count, "ISR repeats: \(what)")
                XCTAssertTrue(Set(p.isr).isSubset(of: p.replicas), "ISR outside replicas: \(what)")
                if p.leader != -1 {
                    XCTAssertTrue(p.isr.contains(p.leader), "leader outside the ISR: \(what)")
                    XCTAssertTrue(image.isUnfenced(p.leader), "fenced leader: \(what)")
                }
                if let old = previous[key] {
                    XCTAssertGreaterThanOrEqual(p.leaderEpoch, old.leader, "leader epoch went back: \(what)")
                    XCTAssertGreaterThanOrEqual(p.partitionEpoch, old.partition, "partition epoch went back: \(what)")
                }
                epochs[key] = (p.leaderEpoch, p.partitionEpoch)
            }
        }
        return epochs
    }

    func testRandomDecisionSequencesKeepTheInvariants() throws {
        var steps = 0
        var records = 0
        for seed in seeds(100) {
            var run = Run(seed: seed)
            var epochs: Epochs = [:]
            for node in run.nodes.prefix(3) { try run.register(node, newIncarnation: false) }
            for index in 0..<250 {
                do {
                    try run.step()
                } catch {
                    return XCTFail("seed \(seed) step \(index): a decision failed: \(error)")
                }
                epochs = check(run.image, after: epochs, "seed \(seed) step \(index)")
                if index % 50 == 49 {
                    XCTAssertEqual(
                        try MetadataImage().applying(run.log), run.image, "seed \(seed) step \(index): replay differs")
                    // A snapshot (the image as records, through the entry codec) rebuilds it exactly.
                    let snapshot = try MetadataBatch.decode(MetadataBatch.encode(run.image.records))
                    XCTAssertEqual(
                        try MetadataImage().applying(snapshot), run.image, "seed \(seed) step \(index): snapshot differs")
                }
            }
            // Everyone comes back and catches up: every partition returns to its preferred leader.
            for node in run.nodes { try run.register(node, newIncarnation: false) }
            for broker in run.image.sortedBrokers where broker.fenced { try run.unfence(broker.nodeId) }
            try run.growIsrs(all: true)
            try run.commit(D.rebalancePreferredLeaders(run.image))
            check(run.image, after: epochs, "seed \(seed) final")
            for topic in run.image.sortedTopics {
                for p in topic.sortedPartitions {
                    XCTAssertEqual(p.leader, p.preferredLeader, "seed \(seed): \(topic.name)-\(p.partition) \(p)")
                }
            }
            // Determinism: the same records from scratch give an equal image, and the same seed
            // gives the same records.
            XCTAssertEqual(try MetadataImage().applying(run.log), run.image, "seed \(seed): replay differs")
            XCTAssertEqual(try MetadataImage().applying(run.log).applying([]), run.image)
            var again = Run(seed: seed)
            for node in again.nodes.prefix(3) { try again.register(node, newIncarnation: false) }
            for _ in 0..<250 { try again.step() }
            XCTAssertEqual(
                again.log, Array(run.log.prefix(again.log.count)), "seed \(seed): decisions not deterministic")
            steps += 250
            records += run.log.count
        }
        XCTAssertGreaterThan(records, steps / 4, "the runs did too little to mean anything")
    }

    /// Topics created while every broker is alive, then random fencing, unfencing, shutdowns and
    /// ISR changes; once all are back and in sync, a rebalance leaves leaders within one of each
    /// other across brokers.
    func testLeadersAreBalancedAfterRebalanceWhenAllAreAlive() throws {
        for seed in seeds(150) {
            var run = Run(seed: seed)
            let count = Int.random(in: 2...5, using: &run.generator)
            for node in run.nodes.prefix(count) {
                try run.register(node, newIncarnation: false)
                try run.unfence(node)
            }
            for _ in 0..<Int.random(in: 1...8, using: &run.generator) { try run.createTopic(maxPartitions: 12) }
            var epochs = check(run.image, after: [:], "seed \(seed) created")
            for index in 0..<60 {
                let live = run.image.unfencedBrokerIds
                switch Int.random(in: 0..<4, using: &run.generator) {
                case 0: if let node = run.pick(live) { try run.commit(D.fenceBroker(run.image, nodeId: node)) }
                case 1:
                    if let node = run.pick(run.image.sortedBrokers.filter(\.fenced).map(\.nodeId)) {
                        try run.unfence(node)
                    }
                case 2:
                    if let broker = run.pick(run.image.sortedBrokers.filter { !$0.fenced }) {
                        try run.commit(
                            D.controlledShutdown(run.image, nodeId: broker.nodeId, brokerEpoch: broker.brokerEpoch))
                    }
                default: try run.growIsrs(all: false)
                }
                epochs = check(run.image, after: epochs, "seed \(seed) step \(index)")
            }
            for broker in run.image.sortedBrokers where broker.fenced { try run.unfence(broker.nodeId) }
            try run.growIsrs(all: true)
            try run.commit(D.rebalancePreferredLeaders(run.image))
            check(run.image, after: epochs, "seed \(seed) rebalanced")
            var leaders = Dictionary(uniqueKeysWithValues: run.image.unfencedBrokerIds.map { ($0, 0) })
            for topic in run.image.sortedTopics {
                for p in topic.sortedPartitions { leaders[p.leader, default: 0] += 1 }
            }
            XCTAssertEqual(leaders.count, count, "seed \(seed): \(leaders)")
            XCTAssertLessThanOrEqual(
                leaders.values.max()! - leaders.values.min()!, 1, "seed \(seed): leaders \(leaders)")
        }
    }
}
