import TernTestSupport
import TernWire
import XCTest

/// Bytes from the network or a disk must never crash the process: every decoder throws a
/// ``WireError`` on truncated, random, oversized or mis-encoded input. (A trap would abort the
/// whole test run, so "never traps" is checked simply by running these.)
final class HostileInputTests: XCTestCase {
    /// Decodes `bytes` with `sample`'s decoder; returns the WireError code, or nil on success.
    /// Any other error type fails the test.
    private func outcome(_ sample: WireCase, _ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line)
        -> WireError.Code?
    {
        var reader = ByteReader(bytes)
        do {
            _ = try sample.decode(&reader)
            return nil
        } catch let error as WireError {
            return error.code
        } catch {
            XCTFail("\(sample.name): non-WireError \(error)", file: file, line: line)
            return nil
        }
    }

    /// The first sample of each message type.
    private var onePerType: [String: WireCase] {
        var byType: [String: WireCase] = [:]
        for sample in WireSamples.all() {
            let type = String(sample.name.prefix { $0 != "(" })
            if byType[type] == nil { byType[type] = sample }
        }
        return byType
    }

    // MARK: truncation

    func testEveryTruncationOfEveryMessageThrows() {
        for sample in WireSamples.all() {
            for length in 0..<sample.encoded.count {
                let code = outcome(sample, Array(sample.encoded.prefix(length)))
                XCTAssertTrue(
                    code == .truncated || code == .malformed,
                    "\(sample.name) cut to \(length): \(String(describing: code))")
            }
        }
    }

    func testEveryTruncationOfAHeaderOrResponseHeadThrows() {
        var w = ByteWriter()
        RequestHeader(apiKey: .fetch, apiVersion: 0, correlationId: 77, clientId: "client").encode(into: &w)
        for length in 0..<w.count {
            var reader = ByteReader(Array(w.bytes.prefix(length)))
            assertWireError(.truncated, "header cut to \(length)") { try RequestHeader(from: &reader) }
        }
        let frame = Frame.errorResponse(correlationId: 1, status: ResponseStatus(.invalidRequest, "bad body"))
        let payload = Array(frame.dropFirst(4))
        for length in 0..<payload.count {
            var reader = ByteReader(Array(payload.prefix(length)))
            assertWireError(.truncated, "response head cut to \(length)") { try Frame.readResponseHead(&reader) }
        }
    }

    // MARK: random bytes

    func testRandomBytesNeverTrap() {
        var rng = SeededGenerator(seed: 0xBAD_5EED)
        for sample in WireSamples.all() {
            for _ in 0..<3000 {
                let bytes = rng.bytes(lengths: 0...64)
                _ = outcome(sample, bytes)
            }
        }
        for _ in 0..<3000 {
            var header = ByteReader(rng.bytes(lengths: 0...32))
            _ = try? RequestHeader(from: &header)
            var head = ByteReader(rng.bytes(lengths: 0...32))
            _ = try? Frame.readResponseHead(&head)
        }
    }

    func testMutatedValidEncodingsNeverTrap() {
        // Random bytes rarely get past the first count; mutations of real messages reach deep fields.
        var rng = SeededGenerator(seed: 0x0DD_F00D)
        for sample in WireSamples.all() where !sample.encoded.isEmpty {
            for _ in 0..<2000 {
                var bytes = sample.encoded
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                    case 1: bytes[i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                    case 2:
                        for j in i..<min(i + 4, bytes.count) { bytes[j] = 0xFF }
                    case 3: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                    default: bytes.remove(at: i)
                    }
                    if bytes.isEmpty { break }
                }
                _ = outcome(sample, bytes)
            }
        }
    }

    func testEveryFourByteWindowSetToAllOnesNeverTraps() {
        let start = ContinuousClock.now
        for sample in WireSamples.all() where sample.encoded.count >= 4 {
            for i in 0...(sample.encoded.count - 4) {
                var bytes = sample.encoded
                bytes.replaceSubrange(i..<i + 4, with: [0xFF, 0xFF, 0xFF, 0xFF])
                _ = outcome(sample, bytes)
            }
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(10))
    }

    // MARK: huge counts

    func testHugeArrayCountsAreMalformedAndFast() throws {
        let ff: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        let count1: [UInt8] = [0, 0, 0, 1]
        let empty: [UInt8] = [0, 0]  // str16 ""
        let null: [UInt8] = [0xFF, 0xFF]  // nullable str16 null
        let cases: [String: [[UInt8]]] = [
            "ApiVersionsResponse": [ff, [0x7F, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 100)],
            "MetadataRequest": [[0] + ff, [1] + ff],
            "MetadataResponse": [
                ff,
                [0, 0, 0, 0] + empty + [0, 0, 0, 0] + ff,
                [0, 0, 0, 0] + empty + [0, 0, 0, 0] + count1 + [0, 0] + empty + [0] + ff,
                [0, 0, 0, 0] + empty + [0, 0, 0, 0] + count1 + [0, 0] + empty + [0] + count1
                    + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] + ff + [0, 0, 0, 0],
            ],
            "CreateTopicsRequest": [ff, count1 + empty + [0, 0, 0, 1] + [0, 0] + ff],
            "CreateTopicsResponse": [ff],
            "DeleteTopicsRequest": [ff],
            "DeleteTopicsResponse": [ff],
            "DescribeConfigsRequest": [ff, count1 + [2] + empty + ff],
            "DescribeConfigsResponse": [ff, count1 + [0, 0] + null + [2] + empty + ff],
            "ProduceRequest": [[0, 1, 0, 0, 0, 0] + ff, [0, 1, 0, 0, 0, 0] + count1 + empty + ff],
            "ProduceResponse": [ff, count1 + empty + ff],
            "FetchRequest": [  // v1: 16 bytes, session id and epoch, topics, forgotten topics
                [UInt8](repeating: 0, count: 24) + ff, [UInt8](repeating: 0, count: 24) + count1 + empty + ff,
                [UInt8](repeating: 0, count: 28) + ff, [UInt8](repeating: 0, count: 28) + count1 + empty + ff,
            ],
            "FetchResponse": [ff, count1 + empty + ff],
            "OffsetForLeaderEpochRequest": [[0, 0, 0, 0] + ff, [0, 0, 0, 0] + count1 + empty + ff],
            "OffsetForLeaderEpochResponse": [ff, count1 + empty + ff],
            // election type, then a hostile topic count; one topic with a hostile partition count.
            "ElectLeadersRequest": [[0] + ff, [0] + count1 + empty + ff],
            "ElectLeadersResponse": [[0, 0] + null + ff, [0, 0] + null + count1 + empty + ff],
            "ListOffsetsRequest": [ff, count1 + empty + ff],
            "ListOffsetsResponse": [ff, count1 + empty + ff],
            "AlterConfigsRequest": [ff, count1 + [2] + empty + ff],
            "AlterConfigsResponse": [ff],
            "ConsumerGroupHeartbeatRequest": [empty + empty + [0, 0, 0, 0] + null + [UInt8](repeating: 0, count: 8) + ff],
            "ConsumerGroupHeartbeatResponse": [[0, 0] + null + empty + [UInt8](repeating: 0, count: 8) + ff],
            "OffsetCommitRequest": [empty + empty + [0, 0, 0, 0] + ff],
            "OffsetCommitResponse": [[0, 0] + null + ff],
            "OffsetFetchRequest": [empty + empty + [0, 0, 0, 0] + ff],
            "OffsetFetchResponse": [[0, 0] + null + ff],
            "ListGroupsResponse": [ff],
            "DescribeGroupsRequest": [ff],
            "DescribeGroupsResponse": [ff, count1 + [0, 0] + null + empty + empty + [0, 0, 0, 0] + ff],
            "DeleteGroupsRequest": [ff],
            "DeleteGroupsResponse": [ff],
            "ResetGroupOffsetsRequest": [empty + empty + ff],
            "ResetGroupOffsetsResponse": [[0, 0] + null + ff],
            "DescribeLogDirsRequest": [ff],
            "FetchKeyRequest": [empty + [0, 0, 0, 0] + ff, empty + [0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFE]],
            "FetchKeyResponse": [[UInt8](repeating: 0, count: 24) + ff],
            "DescribeLogDirsResponse": [ff, count1 + [0, 0] + empty + ff, count1 + [0, 0] + empty + count1 + empty + ff],
            "BrokerRegistrationRequest": [[0, 0, 0, 1] + empty + [UInt8](repeating: 0, count: 16) + ff],
            "SaslHandshakeResponse": [[0, 0] + ff],
            // present flag, then a hostile user count.
            "DescribeUserScramCredentialsRequest": [[1] + ff],
            "DescribeUserScramCredentialsResponse": [
                [0, 0] + null + ff, [0, 0] + null + count1 + empty + [0, 0] + null + ff,
            ],
            "AlterUserScramCredentialsRequest": [ff, [0, 0, 0, 0] + ff],
            "AlterUserScramCredentialsResponse": [ff],
            "CreateAclsRequest": [ff],
            "CreateAclsResponse": [ff],
            "DescribeAclsResponse": [[0, 0] + null + ff],
            "DeleteAclsRequest": [ff],
            "DeleteAclsResponse": [ff, count1 + [0, 0] + null + ff],
            "DescribeClusterResponse": [
                [0, 0] + null + null + [0, 0, 0, 0] + ff,
                [0, 0] + null + null + [0, 0, 0, 0] + count1 + [0, 0, 0, 1, 3, 0] + ff,
            ],
            // timeout, then hostile topic / partition / replica counts.
            "AlterPartitionReassignmentsRequest": [
                [0, 0, 0, 0] + ff, [0, 0, 0, 0] + count1 + empty + ff,
                [0, 0, 0, 0] + count1 + empty + count1 + [0, 0, 0, 0, 0] + ff,
            ],
            "AlterPartitionReassignmentsResponse": [ff, count1 + empty + ff],
            "ListPartitionReassignmentsRequest": [[0] + ff, [0] + count1 + empty + ff],
            "ListPartitionReassignmentsResponse": [
                ff, count1 + empty + ff, count1 + empty + count1 + [0, 0, 0, 0] + ff,
            ],
            "DescribeReplicaLagRequest": [ff, count1 + empty + ff],
            // One partition: partition, errorCode, null message, leaderEpoch, highWatermark,
            // logEndOffset, then a hostile replica count.
            "DescribeReplicaLagResponse": [
                ff, count1 + empty + ff,
                count1 + empty + count1 + [0, 0, 0, 0, 0, 0] + null + [UInt8](repeating: 0, count: 20) + ff,
            ],
            // nodeId, role "", leaderId, epoch, highWatermark, logEndOffset, then a hostile voter count.
            // brokerId, brokerEpoch, then a hostile partition count; one partition with a hostile ISR count.
            "AlterPartitionRequest": [
                [UInt8](repeating: 0, count: 12) + ff,
                [UInt8](repeating: 0, count: 12) + count1 + [UInt8](repeating: 0, count: 28) + ff,
            ],
            "AlterPartitionResponse": [
                [0, 0] + null + ff,
                [0, 0] + null + count1 + [UInt8](repeating: 0, count: 22) + null + [UInt8](repeating: 0, count: 12) + ff,
            ],
            "DescribeQuorumResponse": [
                [0, 0] + null + [0, 0, 0, 1] + empty + [0, 0, 0, 1] + [UInt8](repeating: 0, count: 24) + ff
            ],
        ]
        let samples = onePerType
        XCTAssertEqual(
            Set(cases.keys), Set(samples.keys).subtracting([
                "ApiVersionsRequest", "ListGroupsRequest", "FindCoordinatorRequest", "FindCoordinatorResponse",
                "BrokerRegistrationResponse", "BrokerHeartbeatRequest", "BrokerHeartbeatResponse", "EnvelopeRequest",
                "EnvelopeResponse",
                "DescribeClusterRequest", "DescribeQuorumRequest", "SaslHandshakeRequest", "SaslAuthenticateRequest",
                "SaslAuthenticateResponse", "DescribeAclsRequest", "InitProducerIdRequest", "InitProducerIdResponse",
                "AllocateProducerIdsRequest", "AllocateProducerIdsResponse",
            ]),
            "a case for every decoder with an array")
        let start = ContinuousClock.now
        for _ in 0..<100 {
            for (type, inputs) in cases {
                let sample = try XCTUnwrap(samples[type])
                for input in inputs {
                    XCTAssertEqual(outcome(sample, input), .malformed, "\(type) \(input.prefix(40))")
                }
            }
        }
        XCTAssertLessThan(
            ContinuousClock.now - start, .seconds(5), "hostile counts must fail before allocating or looping")
    }

    func testHugeByteLengthsAreRefusedWithoutAllocating() throws {
        let samples = onePerType
        // Produce partition with a records length of 2 GiB - 1 but 3 bytes present.
        let produce: [UInt8] =
            [0, 1, 0, 0, 0, 0] + [0, 0, 0, 1, 0, 1, 0x74] + [0, 0, 0, 1] + [0, 0, 0, 0] + [
                0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3,
            ]
        XCTAssertEqual(outcome(try XCTUnwrap(samples["ProduceRequest"]), produce), .truncated)
        let negative: [UInt8] =
            [0, 1, 0, 0, 0, 0] + [0, 0, 0, 1, 0, 1, 0x74] + [0, 0, 0, 1] + [0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF]
        XCTAssertEqual(outcome(try XCTUnwrap(samples["ProduceRequest"]), negative), .malformed, "null records")
        var fetch: [UInt8] = [0, 0, 0, 1, 0, 1, 0x74] + [0, 0, 0, 1] + [0, 0, 0, 0] + [0, 0] + [0xFF, 0xFF]
        fetch += [UInt8](repeating: 0, count: 16) + [0x7F, 0xFF, 0xFF, 0xFF]
        XCTAssertEqual(outcome(try XCTUnwrap(samples["FetchResponse"]), fetch), .truncated)
        var reader = ByteReader([0xFF, 0xFE, 0x41])
        assertWireError(.truncated) { try reader.readString() }
    }

    // MARK: invalid UTF-8

    func testInvalidUTF8InEveryStringFieldIsMalformed() {
        let marker: [UInt8] = [0, 4] + Array("@@@@".utf8)
        let invalid: [[UInt8]] = [
            [0xFF, 0x41, 0x41, 0x41],  // never valid
            [0x80, 0x41, 0x41, 0x41],  // lone continuation byte
            [0xC0, 0xAF, 0x41, 0x41],  // overlong "/"
            [0xED, 0xA0, 0x80, 0x41],  // UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0x41, 0x41, 0x41, 0xE2],  // sequence cut by the end of the string
        ]
        var checked = 0
        for sample in WireSamples.all(strings: "@@@@") {
            let bytes = sample.encoded
            var positions: [Int] = []
            var i = 0
            while i + marker.count <= bytes.count {
                if bytes[i..<i + marker.count].elementsEqual(marker) { positions.append(i + 2) }
                i += 1
            }
            for position in positions {
                for bad in invalid {
                    var hostile = bytes
                    hostile.replaceSubrange(position..<position + 4, with: bad)
                    XCTAssertEqual(outcome(sample, hostile), .malformed, "\(sample.name) string at \(position), \(bad)")
                    checked += 1
                }
            }
            // Sanity: the marked sample itself decodes.
            XCTAssertNil(outcome(sample, bytes), sample.name)
        }
        XCTAssertGreaterThan(checked, 100)

        var header = ByteWriter()
        header.write(ApiKey.metadata.rawValue)
        header.write(UInt16(0))
        header.write(UInt32(1))
        header.write(UInt16(2))
        header.write(contentsOf: [0xC3, 0x28] as [UInt8])
        var reader = ByteReader(header.bytes)
        assertWireError(.malformed, "clientId") { try RequestHeader(from: &reader) }

        var head = ByteReader([0, 0, 0, 1, 0, 42, 0, 1, 0xFF])
        assertWireError(.malformed, "errorMessage") { try Frame.readResponseHead(&head) }
    }

    func testNullWhereAStringIsRequired() {
        var reader = ByteReader([0, 0, 0, 1, 0xFF, 0xFF, 0, 0, 0, 0])
        assertWireError(.malformed) { try DeleteTopicsRequest(from: &reader) }
        var header = ByteReader([0, 3, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF])
        assertWireError(.malformed, "null clientId") { try RequestHeader(from: &header) }
    }

    // MARK: record batches

    func testEverySingleByteCorruptionOfABatchIsCaught() throws {
        let batch = makeBatch(records: [
            TestRecord(key: "k", value: "v", headers: [RecordHeader(key: "h", value: [1, 2])]),
            TestRecord(key: nil, value: nil),
        ])
        for i in 0..<batch.count {
            for replacement: UInt8 in [0x00, 0xFF, batch[i] ^ 0x01] where replacement != batch[i] {
                var bytes = batch
                bytes[i] = replacement
                let result = Result { try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) } }
                switch i {
                case 0..<RecordBatchHeader.Offset.batchLength,
                    RecordBatchHeader.Offset.partitionLeaderEpoch..<RecordBatchHeader.Offset.magic:
                    XCTAssertNoThrow(
                        try result.get(), "baseOffset and partitionLeaderEpoch are outside the CRC (byte \(i))")
                case RecordBatchHeader.Offset.attributes...:
                    XCTAssertThrowsError(try result.get(), "byte \(i)") { error in
                        XCTAssertEqual((error as? WireError)?.code, .checksumMismatch, "byte \(i)")
                    }
                default:
                    XCTAssertThrowsError(try result.get(), "byte \(i)") { XCTAssertTrue($0 is WireError) }
                }
            }
        }
    }

    func testCorruptionsBehindAValidCRCNeverTrap() {
        // Mutate a batch, then fix its CRC, so the validator and decoder walk the broken records.
        var rng = SeededGenerator(seed: 99)
        let batch = makeBatch(records: [
            TestRecord(key: "key", value: "value", headers: [RecordHeader(key: "h", value: [1])]),
            TestRecord(key: nil, value: [UInt8](repeating: 9, count: 200)), TestRecord(key: "x", value: nil),
        ])
        var outcomes: [String: Int] = [:]
        for _ in 0..<20_000 {
            var bytes = batch
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: RecordBatchHeader.Offset.attributes..<bytes.count, using: &rng)
                bytes[i] = Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : bytes[i] ^ 0x80
            }
            BatchSurgery.recomputeCRC(&bytes)
            do {
                _ = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
                outcomes["valid", default: 0] += 1
            } catch {
                outcomes["\((error as? WireError)?.code.description ?? "other")", default: 0] += 1
            }
            do {
                _ = try decodeRecords(bytes)
            } catch {
                XCTAssertTrue(error is WireError, "\(error)")
            }
        }
        XCTAssertGreaterThan(outcomes["malformed", default: 0] + outcomes["truncated", default: 0], 1000, "\(outcomes)")
    }

    func testRandomBytesIntoBatchReadersNeverTrap() {
        var rng = SeededGenerator(seed: 1234)
        for _ in 0..<3000 {
            var bytes = rng.bytes(lengths: 0...200)
            if bytes.count > RecordBatchHeader.Offset.magic && Bool.random(using: &rng) {
                bytes[RecordBatchHeader.Offset.magic] = 2  // get past the magic check more often
                if Bool.random(using: &rng) { BatchSurgery.recomputeCRC(&bytes) }
            }
            XCTAssertThrowsError(try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) })
            _ = try? decodeRecords(bytes)
            if bytes.count >= RecordBatchHeader.size {
                _ = try? bytes.withUnsafeBytes { try RecordBatchValidator.validateStored($0, at: 0) }
            }
        }
    }

    func testHugeRecordCountsFailFast() {
        let start = ContinuousClock.now
        for count in [Int32.max, Int32.max - 1, 1 << 20] {
            let batch = makeRawBatch([RawRecord(offsetDelta: 0)], recordCount: count)
            XCTAssertThrowsError(try batch.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) })
            var hostile = RawRecord(offsetDelta: 0)
            hostile.headerCountOverride = Int32.max
            XCTAssertThrowsError(
                try makeRawBatch([hostile]).withUnsafeBytes { try RecordBatchValidator.validateProduced($0) })
            XCTAssertThrowsError(try decodeRecords(makeRawBatch([hostile])))
            XCTAssertThrowsError(
                try decodeRecords(makeRawBatch([RawRecord(offsetDelta: 0)], recordCount: count, lastOffsetDelta: 0)))
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
    }
}
