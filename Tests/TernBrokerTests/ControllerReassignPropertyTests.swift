import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// Seeded random sequences of the controller's decisions (ControllerPropertyTests' steps) mixed
/// with reassignments started, replaced and cancelled (valid and invalid targets) and completions,
/// with the reassignment invariants checked after every step; once every broker is back and in
/// sync, every move completes and each partition ends on the replicas last asked for. Replay a
/// seed with `TERN_CONTROLLER_SEED=<seed> swift test --skip-build --filter
/// TernBrokerTests.ControllerReassignPropertyTests`.
final class ControllerReassignPropertyTests: XCTestCase {
    typealias D = ControllerDecisions
    typealias Run = ControllerPropertyTests.Run

    struct Key: Hashable {
        var topic: MetadataUUID
        var partition: Int32
    }

    func invariants(_ image: MetadataImage, _ context: @autoclosure () -> String) {
        for topic in image.sortedTopics {
            for p in topic.sortedPartitions {
                var what: String { "\(context()) \(topic.name)-\(p.partition) \(p)" }
                XCTAssertEqual(Set(p.replicas).count, p.replicas.count, "replicas repeat: \(what)")
                XCTAssertTrue(Set(p.isr).isSubset(of: p.replicas), "ISR outside replicas: \(what)")
                XCTAssertTrue(Set(p.addingReplicas).isSubset(of: p.replicas), "adding outside replicas: \(what)")
                XCTAssertTrue(Set(p.removingReplicas).isSubset(of: p.replicas), "removing outside replicas: \(what)")
                XCTAssertTrue(Set(p.addingReplicas).isDisjoint(with: p.removingReplicas), "overlap: \(what)")
                XCTAssertFalse(p.targetReplicas.isEmpty, "empty target: \(what)")
                XCTAssertFalse(p.originalReplicas.isEmpty, "empty original: \(what)")
                if p.leader != -1 { XCTAssertTrue(p.isr.contains(p.leader), "leader outside the ISR: \(what)") }
            }
        }
    }

    func testRandomReassignmentsKeepTheInvariantsAndEndOnTheirTargets() throws {
        let environment = ProcessInfo.processInfo.environment
        let seeds = environment["TERN_CONTROLLER_SEED"].flatMap(UInt64.init).map { [$0] } ?? Array(1...100)
        var started = 0
        var completed = 0
        for seed in seeds {
            var run = Run(seed: seed)
            var expected: [Key: [Int32]] = [:]
            for node in run.nodes.prefix(3) { try run.register(node, newIncarnation: false) }
            for index in 0..<250 {
                let roll = Int.random(in: 0..<100, using: &run.generator)
                do {
                    if roll < 25, let topic = run.pick(run.image.sortedTopics),
                        let p = run.pick(topic.sortedPartitions)
                    {
                        let key = Key(topic: topic.id, partition: p.partition)
                        let cancel = p.isReassigning && Int.random(in: 0..<4, using: &run.generator) == 0
                        var target: [Int32]? = nil
                        if !cancel {
                            let size = Int.random(in: 1...3, using: &run.generator)
                            target = Array(run.nodes.shuffled(using: &run.generator).prefix(size))
                        }
                        do {
                            let records = try D.reassign(
                                run.image, topic: topic.name, partition: p.partition, target: target)
                            try run.commit(records)
                            expected[key] = target ?? p.originalReplicas
                            started += 1
                        } catch let error as ControllerError {
                            // Refused only for a reason the request or the cluster gives.
                            let live = Set(run.image.unfencedBrokerIds)
                            switch error.code {
                            case .invalidReplicaAssignment:
                                XCTAssertTrue(
                                    cancel || !(target.map { Set($0).isSubset(of: live) } ?? true),
                                    "seed \(seed) step \(index): \(error)")
                            default: XCTFail("seed \(seed) step \(index): \(error)")
                            }
                        }
                    } else if roll < 35 {
                        let records = try D.completeReassignments(run.image)
                        completed += records.count
                        try run.commit(records)
                        for topic in run.image.sortedTopics {
                            for p in topic.sortedPartitions where p.isReassigning {
                                XCTAssertTrue(
                                    !Set(p.targetReplicas).isSubset(of: p.isr)
                                        || !p.targetReplicas.contains(where: run.image.isUnfenced),
                                    "seed \(seed) step \(index): left incomplete \(p)")
                            }
                        }
                    } else {
                        try run.step()
                    }
                } catch {
                    return XCTFail("seed \(seed) step \(index): a decision failed: \(error)")
                }
                invariants(run.image, "seed \(seed) step \(index)")
            }
            // Everyone back and caught up: every move completes on the replicas last asked for.
            for node in run.nodes { try run.register(node, newIncarnation: false) }
            for broker in run.image.sortedBrokers where broker.fenced { try run.unfence(broker.nodeId) }
            try run.growIsrs(all: true)
            try run.commit(D.completeReassignments(run.image))
            invariants(run.image, "seed \(seed) final")
            for topic in run.image.sortedTopics {
                for p in topic.sortedPartitions {
                    XCTAssertFalse(p.isReassigning, "seed \(seed): \(topic.name)-\(p.partition) still moving \(p)")
                    if let target = expected[Key(topic: topic.id, partition: p.partition)] {
                        XCTAssertEqual(p.replicas, target, "seed \(seed): \(topic.name)-\(p.partition)")
                    }
                }
            }
            let snapshot = try MetadataBatch.decode(MetadataBatch.encode(run.image.records))
            XCTAssertEqual(try MetadataImage().applying(snapshot), run.image, "seed \(seed): snapshot differs")
            XCTAssertEqual(try MetadataImage().applying(run.log), run.image, "seed \(seed): replay differs")
        }
        XCTAssertGreaterThan(started, seeds.count * 5, "too few reassignments to mean anything")
        XCTAssertGreaterThan(completed, seeds.count, "too few completions to mean anything")
    }
}
