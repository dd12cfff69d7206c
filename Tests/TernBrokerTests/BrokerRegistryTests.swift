import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The controller's broker table: registration epochs are registration offsets, heartbeats renew
/// sessions and unfence caught-up brokers, silent brokers are fenced after the session timeout,
/// stale and unknown brokers are refused without changing anything. Seeded runs replay with
/// `TERN_CONTROLLER_SEED=<seed> swift test --skip-build --filter TernBrokerTests.BrokerRegistryTests`.
final class BrokerRegistryTests: XCTestCase {
    static func uuid(_ n: UInt64) -> MetadataUUID { MetadataUUID(high: 0xB0B, low: n) }
    static let listeners: [BrokerRegistrationRecord.Listener] = [
        .init(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)
    ]

    /// A controller whose proposals commit at once: the log, its image and the registry.
    struct Controller {
        var log: [MetadataRecord] = [.clusterId("c1")]
        var image = MetadataImage()
        var registry = BrokerRegistry(sessionTimeoutMs: 9000)
        var nowMs: Int64 = 1_000

        init() throws { image = try image.applying(log) }

        var committedOffset: Int64 { Int64(log.count) - 1 }

        mutating func commit(_ records: [MetadataRecord]) throws {
            for record in records { XCTAssertEqual(try MetadataRecord.decode(record.encoded()), record) }
            image = try image.applying(records)
            log += records
        }

        mutating func register(_ node: Int32, incarnation: UInt64) throws -> Int64 {
            let registration = try registry.register(
                image, nodeId: node, clusterId: "c1", incarnationId: BrokerRegistryTests.uuid(incarnation),
                listeners: BrokerRegistryTests.listeners, roles: [.broker], nextOffset: Int64(log.count), nowMs: nowMs)
            try commit(registration.records)
            return registration.brokerEpoch
        }

        mutating func heartbeat(
            _ node: Int32, epoch: Int64, offset: Int64? = nil, wantFence: Bool = false, wantShutDown: Bool = false
        ) throws -> BrokerRegistry.HeartbeatReply {
            let reply = try registry.heartbeat(
                image, nodeId: node, brokerEpoch: epoch, metadataOffset: offset ?? committedOffset,
                wantFence: wantFence,
                wantShutDown: wantShutDown, committedOffset: committedOffset, nowMs: nowMs)
            try commit(reply.records)
            return reply
        }
    }

    private func assertRefused(
        _ code: ErrorCode, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> some Any
    ) {
        do {
            _ = try body()
            XCTFail("expected \(code)", file: file, line: line)
        } catch let error as ControllerError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    func testRegistrationEpochIsItsOffsetAndABrokerIsUnfencedOnceCaughtUp() throws {
        var controller = try Controller()
        let epoch = try controller.register(1, incarnation: 1)
        XCTAssertEqual(epoch, 1, "the registration record is offset 1, after the cluster id")
        XCTAssertEqual(controller.image.broker(1)?.fenced, true)
        XCTAssertEqual(controller.image.broker(1)?.listeners, Self.listeners)
        // A retry of the same incarnation: same epoch, nothing proposed.
        XCTAssertEqual(try controller.register(1, incarnation: 1), epoch)
        XCTAssertEqual(controller.log.count, 2)

        // Behind the committed offset: stays fenced.
        var reply = try controller.heartbeat(1, epoch: epoch, offset: 0)
        XCTAssertEqual(reply, .init(isCaughtUp: false, isFenced: true, shouldShutDown: false, records: []))
        // Caught up: unfenced.
        reply = try controller.heartbeat(1, epoch: epoch)
        XCTAssertTrue(reply.isCaughtUp)
        XCTAssertFalse(reply.isFenced)
        XCTAssertEqual(reply.records, [.brokerFencing(.init(nodeId: 1, brokerEpoch: 1, fenced: false))])
        XCTAssertEqual(controller.image.broker(1)?.fenced, false)
        XCTAssertEqual(controller.registry.sessions[1], .init(lastHeartbeatMs: 1_000, metadataOffset: 1))
        // Heartbeats of an unfenced broker propose nothing.
        XCTAssertEqual(try controller.heartbeat(1, epoch: epoch).records, [])
    }

    func testSilentBrokersAreFencedAfterTheSessionTimeoutAndComeBack() throws {
        var controller = try Controller()
        let one = try controller.register(1, incarnation: 1)
        let two = try controller.register(2, incarnation: 1)
        _ = try controller.heartbeat(1, epoch: one)
        _ = try controller.heartbeat(2, epoch: two)
        XCTAssertEqual(controller.image.unfencedBrokerIds, [1, 2])
        XCTAssertEqual(controller.registry.nextExpiryMs(controller.image), 10_001)

        controller.nowMs = 9_000
        _ = try controller.heartbeat(2, epoch: two)
        controller.nowMs = 10_000  // exactly the timeout since broker 1's heartbeat: still alive
        XCTAssertEqual(try controller.registry.expireSessions(controller.image, nowMs: controller.nowMs), [])
        controller.nowMs = 10_001
        let fenced = try controller.registry.expireSessions(controller.image, nowMs: controller.nowMs)
        XCTAssertEqual(fenced, [.brokerFencing(.init(nodeId: 1, brokerEpoch: one, fenced: true))])
        try controller.commit(fenced)
        XCTAssertEqual(controller.image.unfencedBrokerIds, [2])
        XCTAssertEqual(controller.registry.nextExpiryMs(controller.image), 18_001)

        // It heartbeats again with its epoch and is caught up: unfenced.
        let reply = try controller.heartbeat(1, epoch: one)
        XCTAssertFalse(reply.isFenced)
        XCTAssertEqual(controller.image.unfencedBrokerIds, [1, 2])
    }

    func testStaleAndUnknownHeartbeatsAreRefusedAndChangeNothing() throws {
        var controller = try Controller()
        let old = try controller.register(1, incarnation: 1)
        _ = try controller.heartbeat(1, epoch: old)
        controller.nowMs += 100
        // The process restarted: a new incarnation gets a new, higher epoch and starts fenced.
        let new = try controller.register(1, incarnation: 2)
        XCTAssertEqual(new, Int64(controller.log.count) - 1)
        XCTAssertGreaterThan(new, old)
        XCTAssertEqual(controller.log[Int(new)], controller.log.last)
        XCTAssertEqual(controller.image.broker(1)?.fenced, true)
        let before = controller.registry
        let logLength = controller.log.count
        controller.nowMs += 100
        assertRefused(.staleBrokerEpoch) { try controller.heartbeat(1, epoch: old) }
        assertRefused(.staleBrokerEpoch) { try controller.heartbeat(1, epoch: new + 1) }
        assertRefused(.brokerIdNotRegistered) { try controller.heartbeat(7, epoch: new) }
        assertRefused(.invalidRequest) { try controller.heartbeat(1, epoch: new, offset: -2) }
        XCTAssertEqual(controller.registry, before, "a refused heartbeat must not renew a session")
        XCTAssertEqual(controller.log.count, logLength)

        // Another cluster's broker, and a negative node id, cannot register.
        assertRefused(.inconsistentClusterId) {
            try controller.registry.register(
                controller.image, nodeId: 3, clusterId: "c2", incarnationId: Self.uuid(3), listeners: [],
                roles: [.broker],
                nextOffset: Int64(controller.log.count), nowMs: controller.nowMs)
        }
        assertRefused(.invalidRequest) {
            try controller.registry.register(
                controller.image, nodeId: -1, clusterId: "", incarnationId: Self.uuid(3), listeners: [],
                roles: [.broker],
                nextOffset: Int64(controller.log.count), nowMs: controller.nowMs)
        }
        // A next offset that is not past the newest registration is a controller bug, refused.
        assertRefused(.unknownServerError) {
            try controller.registry.register(
                controller.image, nodeId: 3, clusterId: "", incarnationId: Self.uuid(3), listeners: [],
                roles: [.broker],
                nextOffset: new, nowMs: controller.nowMs)
        }
    }

    func testWantFenceAndControlledShutdown() throws {
        var controller = try Controller()
        let one = try controller.register(1, incarnation: 1)
        let two = try controller.register(2, incarnation: 1)
        _ = try controller.heartbeat(1, epoch: one)
        _ = try controller.heartbeat(2, epoch: two)
        var generator = SeededGenerator(seed: 1)
        try controller.commit(
            ControllerDecisions.createTopic(
                controller.image, name: "t", partitions: 4, replicationFactor: 2, using: &generator))
        let ledByOne = { (image: MetadataImage) in
            image.topic(named: "t")!.sortedPartitions.filter { $0.leader == 1 }.count
        }
        XCTAssertGreaterThan(ledByOne(controller.image), 0)

        // Controlled shutdown: the first heartbeat moves leadership, the next one fences the
        // broker (no election picks it again before it registers anew) and lets it shut down.
        var reply = try controller.heartbeat(1, epoch: one, wantShutDown: true)
        XCTAssertFalse(reply.shouldShutDown)
        XCTAssertFalse(reply.records.isEmpty)
        XCTAssertEqual(ledByOne(controller.image), 0)
        XCTAssertEqual(controller.image.broker(1)?.fenced, false)
        reply = try controller.heartbeat(1, epoch: one, wantShutDown: true)
        XCTAssertTrue(reply.shouldShutDown)
        XCTAssertTrue(reply.isFenced)
        XCTAssertEqual(reply.records.first, .brokerFencing(.init(nodeId: 1, brokerEpoch: one, fenced: true)))
        XCTAssertEqual(controller.image.broker(1)?.fenced, true)
        // Still asking to shut down: stays fenced, nothing more to propose.
        reply = try controller.heartbeat(1, epoch: one, wantShutDown: true)
        XCTAssertEqual(reply, .init(isCaughtUp: true, isFenced: true, shouldShutDown: true, records: []))
        // The controller's other decisions no longer pick it: a rebalance leaves its partitions.
        XCTAssertEqual(try ControllerDecisions.rebalancePreferredLeaders(controller.image), [])

        // wantFence fences at once; a later ordinary heartbeat, caught up, unfences.
        reply = try controller.heartbeat(2, epoch: two, wantFence: true)
        XCTAssertTrue(reply.isFenced)
        XCTAssertEqual(controller.image.broker(2)?.fenced, true)
        reply = try controller.heartbeat(2, epoch: two)
        XCTAssertFalse(reply.isFenced)
    }

    func testANewActiveControllerGivesEveryBrokerAFullSession() throws {
        var controller = try Controller()
        let one = try controller.register(1, incarnation: 1)
        _ = try controller.heartbeat(1, epoch: one)
        // Another controller takes over much later, knowing nothing of the sessions.
        var successor = BrokerRegistry(sessionTimeoutMs: 9000)
        XCTAssertEqual(try successor.expireSessions(controller.image, nowMs: 1_000_000), [])
        successor.becameActive(controller.image, nowMs: 1_000_000)
        XCTAssertEqual(successor.sessions[1]?.lastHeartbeatMs, 1_000_000)
        XCTAssertEqual(try successor.expireSessions(controller.image, nowMs: 1_009_000), [])
        XCTAssertEqual(
            try successor.expireSessions(controller.image, nowMs: 1_009_001),
            [.brokerFencing(.init(nodeId: 1, brokerEpoch: one, fenced: true))])
        XCTAssertEqual(successor.entries(controller.image).map(\.broker.nodeId), [1])
    }

    // MARK: seeded sequences

    /// Seeds to run: `TERN_CONTROLLER_SEED`, or 1...`TERN_CONTROLLER_SEEDS`, or 1...`count`.
    func seeds(_ count: UInt64) -> [UInt64] {
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["TERN_CONTROLLER_SEED"], let seed = UInt64(text) { return [seed] }
        if let text = environment["TERN_CONTROLLER_SEEDS"], let many = UInt64(text), many > 0 { return Array(1...many) }
        return Array(1...count)
    }

    func testRandomRegistrationsHeartbeatsAndSilencesKeepTheInvariants() throws {
        var steps = 0
        for seed in seeds(100) {
            var generator = SeededGenerator(seed: seed)
            var controller = try Controller()
            var incarnations: [Int32: UInt64] = [:]
            /// Every epoch each node was ever given, to send stale heartbeats with.
            var epochs: [Int32: [Int64]] = [:]
            var topics = 0
            let nodes: [Int32] = [0, 1, 2, 3, 4]
            for step in 0..<300 {
                let context = "seed \(seed) step \(step) (replay: TERN_CONTROLLER_SEED=\(seed))"
                let logBefore = controller.log.count
                let imageBefore = controller.image
                let registryBefore = controller.registry
                switch Int.random(in: 0..<100, using: &generator) {
                case 0..<12:
                    let node = nodes.randomElement(using: &generator)!
                    if incarnations[node] == nil || Int.random(in: 0..<3, using: &generator) == 0 {
                        incarnations[node, default: 0] += 1
                    }
                    let epoch = try controller.register(node, incarnation: incarnations[node]!)
                    if controller.log.count > logBefore {
                        // A new registration: its epoch is its record's offset, and it starts fenced.
                        XCTAssertEqual(epoch, Int64(logBefore), context)
                        guard case .registerBroker(let record) = controller.log[logBefore] else {
                            XCTFail("first record is not the registration: \(context)")
                            continue
                        }
                        XCTAssertEqual(record.brokerEpoch, epoch, context)
                        XCTAssertTrue(record.fenced, context)
                        XCTAssertGreaterThan(epoch, epochs[node]?.last ?? -1, context)
                        epochs[node, default: []].append(epoch)
                    } else {
                        XCTAssertEqual(
                            epoch, imageBefore.broker(node)?.brokerEpoch, "retry keeps the epoch: \(context)")
                    }
                case 12..<55:
                    // A live broker heartbeats, caught up or a little behind.
                    guard let broker = controller.image.sortedBrokers.randomElement(using: &generator) else { break }
                    let offset = controller.committedOffset - Int64.random(in: 0...2, using: &generator)
                    let wantShutDown = Int.random(in: 0..<20, using: &generator) == 0
                    let reply = try controller.heartbeat(
                        broker.nodeId, epoch: broker.brokerEpoch, offset: offset, wantShutDown: wantShutDown)
                    let after = try XCTUnwrap(controller.image.broker(broker.nodeId))
                    XCTAssertEqual(reply.isFenced, after.fenced, context)
                    XCTAssertEqual(reply.isCaughtUp, offset >= Int64(logBefore) - 1, context)
                    XCTAssertEqual(
                        controller.registry.sessions[broker.nodeId]?.lastHeartbeatMs, controller.nowMs, context)
                    if broker.fenced && !after.fenced {
                        XCTAssertTrue(reply.isCaughtUp, "unfenced while behind: \(context)")
                    }
                    if broker.fenced && reply.isCaughtUp && !wantShutDown {
                        XCTAssertFalse(after.fenced, "caught up but still fenced: \(context)")
                    }
                case 55..<65:
                    // A heartbeat with an old epoch, or from a node never registered.
                    let node = nodes.randomElement(using: &generator)!
                    let stale = epochs[node]?.dropLast().randomElement(using: &generator)
                    let expected: ErrorCode =
                        controller.image.broker(node) == nil ? .brokerIdNotRegistered : .staleBrokerEpoch
                    assertRefused(expected) { try controller.heartbeat(node, epoch: stale ?? -5) }
                    XCTAssertEqual(controller.registry, registryBefore, "refused heartbeat changed state: \(context)")
                    XCTAssertEqual(controller.log.count, logBefore, context)
                case 65..<75:
                    topics += 1
                    do {
                        try controller.commit(
                            ControllerDecisions.createTopic(
                                controller.image, name: "t\(topics)", partitions: 3,
                                replicationFactor: Int16.random(in: 1...3, using: &generator), using: &generator))
                    } catch let error as ControllerError where error.code == .invalidReplicationFactor {}
                default:
                    // Time passes; the controller fences every broker silent for too long.
                    controller.nowMs += Int64.random(in: 500...6_000, using: &generator)
                    try controller.commit(controller.registry.expireSessions(controller.image, nowMs: controller.nowMs))
                    for broker in controller.image.sortedBrokers where !broker.fenced {
                        let last = try XCTUnwrap(controller.registry.sessions[broker.nodeId], context).lastHeartbeatMs
                        XCTAssertLessThanOrEqual(controller.nowMs - last, 9_000, "expired but unfenced: \(context)")
                    }
                    for record in controller.log[logBefore...] {
                        guard case .brokerFencing(let change) = record, change.fenced else { continue }
                        let last = registryBefore.sessions[change.nodeId]?.lastHeartbeatMs ?? .max
                        XCTAssertGreaterThan(controller.nowMs - last, 9_000, "fenced while alive: \(context)")
                    }
                }
                // Every broker's epoch is the offset of its latest registration record.
                for broker in controller.image.sortedBrokers {
                    guard case .registerBroker(let record) = controller.log[Int(broker.brokerEpoch)] else {
                        XCTFail("log[\(broker.brokerEpoch)] is not broker \(broker.nodeId)'s registration: \(context)")
                        continue
                    }
                    XCTAssertEqual(record.nodeId, broker.nodeId, context)
                    XCTAssertEqual(record.incarnationId, broker.incarnationId, context)
                }
                // No partition is led by a fenced broker.
                for topic in controller.image.sortedTopics {
                    for partition in topic.sortedPartitions where partition.leader != -1 {
                        XCTAssertTrue(controller.image.isUnfenced(partition.leader), "fenced leader: \(context)")
                    }
                }
                steps += 1
            }
        }
        XCTAssertGreaterThan(steps, 0)
    }
}
