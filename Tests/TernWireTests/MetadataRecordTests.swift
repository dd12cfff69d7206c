import TernTestSupport
import TernWire
import XCTest

/// The metadata log's record codec: every record round-trips, and truncated, trailing, unknown
/// or random input throws a ``WireError`` (a trap would abort the test run).
final class MetadataRecordTests: XCTestCase {
    static let topicId = MetadataUUID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)

    /// At least one sample of every record type, with empty and non-empty collections.
    static let samples: [MetadataRecord] = [
        .clusterId("c1-Xy"),
        .clusterId(""),
        .registerBroker(
            .init(
                nodeId: 3, incarnationId: MetadataUUID(high: 1, low: 2), brokerEpoch: 42,
                listeners: [
                    .init(name: "PLAINTEXT", host: "127.0.0.1", port: 9092),
                    .init(name: "CONTROLLER", host: "::1", port: 9093),
                ], roles: [.broker, .controller], fenced: true)),
        .registerBroker(
            .init(
                nodeId: 0, incarnationId: .zero, brokerEpoch: Int64.max, listeners: [], roles: [], fenced: false)),
        .brokerFencing(.init(nodeId: 3, brokerEpoch: 42, fenced: true)),
        .brokerFencing(.init(nodeId: 3, brokerEpoch: 42, fenced: false)),
        .topic(
            .init(topicId: topicId, name: "orders", configs: ["retention.ms": "1000", "cleanup.policy": "compact"])),
        .topic(.init(topicId: topicId, name: "t", configs: [:])),
        .partition(
            .init(
                topicId: topicId, partition: 7, replicas: [1, 2, 3], isr: [1, 3], leader: 1, leaderEpoch: 4,
                partitionEpoch: 9)),
        .partition(.init(topicId: topicId, partition: 0, replicas: [], isr: [], leader: -1)),
        .partitionChange(
            .init(topicId: topicId, partition: 7, leader: -1, isr: [2], leaderEpoch: 5, partitionEpoch: 10)),
        // Version 1: a reassignment's replica sets (partially present, and all present but empty).
        .partition(
            .init(
                topicId: topicId, partition: 2, replicas: [4, 5, 1], isr: [1], leader: 1, leaderEpoch: 3,
                partitionEpoch: 6, addingReplicas: [4, 5], removingReplicas: [1])),
        .partitionChange(
            .init(
                topicId: topicId, partition: 2, leader: 1, isr: [1, 4], leaderEpoch: 3, partitionEpoch: 7,
                replicas: [4, 5, 1], addingReplicas: [4, 5], removingReplicas: nil)),
        .partitionChange(
            .init(
                topicId: topicId, partition: 2, leader: 4, isr: [4, 5], leaderEpoch: 4, partitionEpoch: 8,
                replicas: [4, 5], addingReplicas: [], removingReplicas: [])),
        .config(.init(resourceType: .topic, resourceName: "orders", key: "retention.ms", value: "5")),
        .config(.init(resourceType: .broker, resourceName: "", key: "log.retention.ms", value: nil)),
        .removeTopic(.init(topicId: topicId)),
        .userScramCredential(
            .init(
                name: "alice",
                credential: ScramCredential(
                    mechanism: .sha256, salt: [1, 2, 3], storedKey: Array(repeating: 7, count: 32),
                    serverKey: Array(repeating: 9, count: 32), iterations: 4096))),
        .userScramCredential(
            .init(
                name: "",
                credential: ScramCredential(mechanism: .sha512, salt: [], storedKey: [], serverKey: [], iterations: 1))),
        .removeUserScramCredential(.init(name: "alice", mechanism: .sha512)),
        .addAcl(
            .init(
                resourceType: .topic, resourceName: "orders", patternType: .prefixed, principal: "User:alice",
                host: "10.0.0.7", operation: .describeConfigs, permission: .deny)),
        .addAcl(.init(resourceType: .cluster, resourceName: "kafka-cluster", principal: "User:*", operation: .all)),
        .removeAcl(.init(resourceType: .group, resourceName: "*", principal: "User:bob", operation: .read)),
        .producerIds(.init(brokerId: 2, brokerEpoch: 17, nextProducerId: 3000)),
    ]

    func testEveryTypeHasASample() {
        let covered = Set(Self.samples.map(\.typeCode))
        XCTAssertEqual(covered, Set(MetadataRecord.TypeCode.allCases))
    }

    func testRoundTrips() throws {
        for record in Self.samples {
            let bytes = record.encoded()
            XCTAssertEqual(try MetadataRecord.decode(bytes), record, "\(record)")
            // Re-encoding is byte-identical (configs are written sorted).
            XCTAssertEqual(try MetadataRecord.decode(bytes).encoded(), bytes, "\(record)")
        }
    }

    func testSeveralRecordsFromOneReader() throws {
        var all: [UInt8] = []
        for record in Self.samples { all += record.encoded() }
        var reader = ByteReader(all)
        var decoded: [MetadataRecord] = []
        while !reader.isAtEnd { decoded.append(try MetadataRecord.decode(from: &reader)) }
        XCTAssertEqual(decoded, Self.samples)
    }

    func testEveryTruncationThrows() {
        for record in Self.samples {
            let bytes = record.encoded()
            for length in 0..<bytes.count {
                XCTAssertThrowsError(try MetadataRecord.decode(Array(bytes[0..<length])), "\(record) cut at \(length)")
                {
                    // A cut array body reads as `.malformed` (its count no longer fits), anything else as
                    // `.truncated`; both are refusals, never a trap.
                    let code = ($0 as? WireError)?.code
                    XCTAssertTrue(code == .truncated || code == .malformed, "\(record) cut at \(length): \($0)")
                }
            }
        }
    }

    func testTrailingBytesAreMalformed() {
        for record in Self.samples {
            XCTAssertThrowsError(try MetadataRecord.decode(record.encoded() + [0])) {
                XCTAssertEqual(($0 as? WireError)?.code, .malformed)
            }
        }
    }

    func testUnknownTypeAndVersionAreRefusedClearly() {
        XCTAssertThrowsError(try MetadataRecord.decode([0x00, 0x63, 0x00, 0x00])) {
            let error = $0 as? WireError
            XCTAssertEqual(error?.code, .unsupportedVersion)
            XCTAssertTrue(error?.message.contains("unknown metadata record type 99") ?? false, "\($0)")
        }
        var bytes = MetadataRecord.clusterId("c").encoded()
        bytes[3] = 1
        XCTAssertThrowsError(try MetadataRecord.decode(bytes)) {
            let error = $0 as? WireError
            XCTAssertEqual(error?.code, .unsupportedVersion)
            XCTAssertTrue(error?.message.contains("version 1") ?? false, "\($0)")
        }
    }

    func testBadFieldValuesAreMalformed() {
        // Unknown role bit.
        var register = MetadataRecord.registerBroker(
            .init(nodeId: 1, incarnationId: .zero, brokerEpoch: 1, listeners: [], roles: [.broker], fenced: false)
        ).encoded()
        register[register.count - 2] = 0x84
        XCTAssertThrowsError(try MetadataRecord.decode(register)) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
        // Unknown config resource type.
        var config = MetadataRecord.config(.init(resourceType: .topic, resourceName: "t", key: "k", value: "v"))
            .encoded()
        config[4] = 3
        XCTAssertThrowsError(try MetadataRecord.decode(config)) { XCTAssertEqual(($0 as? WireError)?.code, .malformed) }
        // A config key twice.
        var writer = ByteWriter()
        writer.write(MetadataRecord.TypeCode.topic.rawValue)
        writer.write(UInt16(0))
        writer.write(Self.topicId)
        writer.writeString("t")
        writer.write(UInt32(2))
        for _ in 0..<2 {
            writer.writeString("k")
            writer.writeString("v")
        }
        XCTAssertThrowsError(try MetadataRecord.decode(writer.take())) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
        // Unknown ACL enum codes, one field at a time (type, pattern, operation, permission).
        let acl = MetadataRecord.addAcl(
            .init(resourceType: .topic, resourceName: "t", principal: "User:a", operation: .read)
        )
        .encoded()
        // 4 header + type(1) + str16 "t"(3) = pattern at 8; + "User:a"(8) + "*"(3) = operation at 20.
        for (index, bad) in [(4, Int8(1)), (4, 5), (8, 2), (8, 0), (20, 1), (20, 12), (21, 1), (21, 0)] {
            var bytes = acl
            bytes[index] = UInt8(bitPattern: bad)
            XCTAssertThrowsError(try MetadataRecord.decode(bytes), "byte \(index) = \(bad)") {
                XCTAssertEqual(($0 as? WireError)?.code, .malformed)
            }
        }
        // A replica count larger than the bytes left is refused before anything is allocated.
        var partition = MetadataRecord.partition(
            .init(topicId: Self.topicId, partition: 0, replicas: [1], isr: [1], leader: 1)
        ).encoded()
        partition.replaceSubrange(24..<28, with: [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try MetadataRecord.decode(partition)) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
    }

    /// Random bytes, and samples with random bytes flipped, never trap and only ever throw WireError.
    func testRandomBytesNeverTrap() {
        for seed in UInt64(1)...3 {
            var generator = SeededGenerator(seed: seed)
            for round in 0..<4000 {
                var bytes: [UInt8]
                if round % 2 == 0 {
                    bytes = generator.bytes(lengths: 0...80)
                    // Give half of them a valid header so the body decoders get exercised.
                    if bytes.count >= 4, round % 4 == 0 {
                        let type = MetadataRecord.TypeCode.allCases.randomElement(using: &generator)!
                        bytes[0] = UInt8(type.rawValue >> 8)
                        bytes[1] = UInt8(truncatingIfNeeded: type.rawValue)
                        bytes[2] = 0
                        bytes[3] = 0
                    }
                } else {
                    bytes = Self.samples.randomElement(using: &generator)!.encoded()
                    for _ in 0..<Int.random(in: 1...3, using: &generator) {
                        let index = Int.random(in: 0..<bytes.count, using: &generator)
                        bytes[index] = UInt8.random(in: 0...255, using: &generator)
                    }
                }
                do {
                    _ = try MetadataRecord.decode(bytes)
                } catch is WireError {
                } catch {
                    XCTFail("seed \(seed) round \(round): non-WireError \(error)")
                }
            }
        }
    }
}
