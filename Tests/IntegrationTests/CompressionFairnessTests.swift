import Foundation
import Synchronization
import TernTestSupport
import TernWire
import XCTest

/// Gzip bombs against a real `ternd`: a batch of ~65 KB that inflates past the 64 MiB bound is
/// refused, and while four connections send them back to back another connection's requests
/// are still answered within milliseconds (their validation runs off the network queues).
final class CompressionFairnessTests: BrokerTestCase {
    /// A produce of one gzip batch whose records inflate to just over the broker's 64 MiB bound.
    static let bomb: [UInt8] = {
        let zeros = [UInt8](repeating: 0, count: RecordBatchValidator.maxDecompressedBytes + 1)
        let compressed = zeros.withUnsafeBytes { Gzip.compress($0, level: 9) }
        let batch = makeRawBatch(records: compressed, recordCount: 1, attributes: Int16(CompressionCodec.gzip.rawValue))
        return Frame.request(
            ProduceRequest(
                acks: 1, timeoutMs: 30_000,
                topics: [.init(name: "bombs", partitions: [.init(partition: 0, records: batch)])]),
            correlationId: 1, clientId: "bomber")
    }()

    /// Sends one bomb and checks that it is refused as INVALID_RECORD; returns the seconds it took.
    private static func throwBomb(_ connection: RawConnection) throws -> Double {
        let started = Date()
        try connection.write(bomb)
        guard let payload = connection.readFrame() else { throw BrokerProcessError("no answer to a bomb") }
        let elapsed = Date().timeIntervalSince(started)
        var reader = ByteReader(payload)
        let head = try Frame.readResponseHead(&reader)
        let response = try ProduceResponse(from: &reader, version: 0)
        let code = response.topics.first?.partitions.first?.errorCode
        guard head.status.errorCode == .none, code == .invalidRecord else {
            throw BrokerProcessError(
                "bomb answered with \(head.status.errorCode), partition \(String(describing: code))")
        }
        return elapsed
    }

    /// What the attackers saw.
    private final class Attack: Sendable {
        let stop = Atomic<Bool>(false)
        let refused = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
    }

    func testBombsOnFourConnectionsDoNotStallAnotherConnection() throws {
        let setup = try RawConnection(port: broker.port, timeout: 60)
        _ = try setup.roundTrip(
            CreateTopicsRequest(topics: [
                .init(name: "bombs", numPartitions: 1), .init(name: "plain", numPartitions: 1),
            ]))
        _ = Self.bomb
        // What one bomb costs the broker alone, on this machine now (the bound below scales with it).
        let alone = try (0..<3).map { _ in try Self.throwBomb(setup) }.sorted()[1]

        let attack = Attack()
        let attackers = DispatchGroup()
        let port = broker.port
        for _ in 0..<4 {
            attackers.enter()
            Thread.detachNewThread {
                defer { attackers.leave() }
                do {
                    let connection = try RawConnection(port: port, timeout: 120)
                    while !attack.stop.load(ordering: .relaxed) {
                        _ = try Self.throwBomb(connection)
                        attack.refused.add(1, ordering: .relaxed)
                    }
                } catch {
                    attack.failures.withLock { $0.append("\(error)") }
                }
            }
        }
        // Let the attack get going: every attacker has a bomb in the broker.
        let warmup = Date().addingTimeInterval(60)
        while attack.refused.load(ordering: .relaxed) < 4 && Date() < warmup { usleep(10_000) }

        let victim = try RawConnection(port: broker.port, timeout: 60)
        let record = makeBatch(records: testRecords(count: 1))
        var latencies: [Double] = []
        // Measure for as long as the attackers need to send 8 bombs (at least 60 requests), so
        // that the victim's requests overlap the bombs' validation whatever the machine's speed.
        let deadline = Date().addingTimeInterval(90)
        let refusedBefore = attack.refused.load(ordering: .relaxed)
        var correlation: UInt32 = 10
        while (latencies.count < 60 || attack.refused.load(ordering: .relaxed) - refusedBefore < 8) && Date() < deadline
        {
            correlation += 1
            let started = Date()
            switch latencies.count % 3 {
            case 0:
                XCTAssertEqual(
                    try victim.roundTrip(ApiVersionsRequest(), correlationId: correlation).status.errorCode, .none)
            case 1:
                XCTAssertEqual(
                    try victim.roundTrip(MetadataRequest(topics: ["plain"]), correlationId: correlation).status
                        .errorCode, .none)
            default:
                let (status, response) = try victim.roundTrip(
                    ProduceRequest(
                        acks: 1, timeoutMs: 5000,
                        topics: [.init(name: "plain", partitions: [.init(partition: 0, records: record)])]),
                    correlationId: correlation)
                XCTAssertEqual(status.errorCode, .none)
                XCTAssertEqual(response?.topics.first?.partitions.first?.errorCode, ErrorCode.none)
            }
            latencies.append(Date().timeIntervalSince(started))
            usleep(10_000)
        }
        let refusedDuring = attack.refused.load(ordering: .relaxed) - refusedBefore
        attack.stop.store(true, ordering: .relaxed)
        XCTAssertEqual(attackers.wait(timeout: .now() + 120), .success, "attackers did not stop")

        XCTAssertEqual(attack.failures.withLock { $0 }, [], "every bomb is refused with INVALID_RECORD")
        XCTAssertGreaterThanOrEqual(refusedDuring, 8, "the attack was not running while the victim was measured")
        latencies.sort()
        let p50 = latencies[latencies.count / 2]
        let bound = max(0.05, alone / 4)
        XCTAssertLessThan(
            p50, bound,
            "victim p50 \(Int(p50 * 1000)) ms (max \(Int((latencies.last ?? 0) * 1000)) ms) while bombs cost "
                + "\(Int(alone * 1000)) ms each; \(refusedDuring) bombs refused meanwhile")
        print(
            "victim latency under 4 bombing connections: p50 \(Int(p50 * 1000)) ms, max \(Int((latencies.last ?? 0) * 1000)) ms, "
                + "\(latencies.count) requests; one bomb alone \(Int(alone * 1000)) ms")
    }
}
