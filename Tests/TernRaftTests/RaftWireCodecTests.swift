import TernRaft
import TernTestSupport
import TernWire
import XCTest

/// The quorum APIs' wire codec (docs/protocol.md §7.22): every message round-trips, and no
/// truncated, random or oversized input decodes or traps.
final class RaftWireCodecTests: XCTestCase {
    /// One of every message, with each optional field both set and unset.
    static let samples: [RaftMessage] = [
        .vote(VoteRequest(epoch: 7, lastEpoch: 6, endOffset: 42, preVote: true)),
        .vote(VoteRequest(epoch: 1, lastEpoch: 0, endOffset: 0, preVote: false)),
        .voteResponse(VoteResponse(epoch: 7, candidateEpoch: 8, granted: true, preVote: true, leaderId: nil)),
        .voteResponse(VoteResponse(epoch: 9, candidateEpoch: 8, granted: false, preVote: false, leaderId: 3)),
        .beginQuorumEpoch(epoch: 12),
        .beginQuorumEpochResponse(epoch: 13),
        .fetch(TernRaft.FetchRequest(epoch: 5, fetchOffset: 100, lastFetchedEpoch: 4)),
        .fetchResponse(
            FetchResponse(
                epoch: 5, leaderId: 1, fetchOffset: 10, lastFetchedEpoch: 4, startOffset: 10, prevEpoch: 4,
                entries: [RaftEntry(epoch: 5, data: []), RaftEntry(epoch: 5, data: [1, 2, 3])], highWatermark: 9)),
        .fetchResponse(
            FetchResponse(
                epoch: 6, leaderId: 2, fetchOffset: 10, lastFetchedEpoch: 4,
                diverging: .init(epoch: 3, endOffset: 7), highWatermark: 5)),
        .fetchResponse(
            FetchResponse(epoch: 6, leaderId: nil, failure: .notLeader, fetchOffset: 0, lastFetchedEpoch: 0)),
        .fetchResponse(
            FetchResponse(epoch: 6, leaderId: 2, failure: .fencedEpoch, fetchOffset: 3, lastFetchedEpoch: 1)),
        .fetchResponse(
            FetchResponse(
                epoch: 6, leaderId: 2, fetchOffset: 3, lastFetchedEpoch: 1, highWatermark: 40,
                snapshotId: RaftSnapshotId(endOffset: 30, lastEpoch: 5))),
        .endQuorumEpoch(EndQuorumEpochRequest(epoch: 9, preferredSuccessors: [3, 1, 0])),
        .endQuorumEpoch(EndQuorumEpochRequest(epoch: 1, preferredSuccessors: [])),
        .fetchSnapshot(
            FetchSnapshotRequest(
                epoch: 8, snapshotId: RaftSnapshotId(endOffset: 300, lastEpoch: 7), position: 65_536, maxBytes: 65_536)),
        .fetchSnapshotResponse(
            FetchSnapshotResponse(
                epoch: 8, leaderId: 1, snapshotId: RaftSnapshotId(endOffset: 300, lastEpoch: 7), size: 70_000,
                position: 65_536, chunk: Array(repeating: 0xAB, count: 300) + [1, 2, 3])),
        .fetchSnapshotResponse(
            FetchSnapshotResponse(
                epoch: 8, leaderId: nil, failure: .notLeader, snapshotId: RaftSnapshotId(endOffset: 3, lastEpoch: 2))),
        .fetchSnapshotResponse(
            FetchSnapshotResponse(
                epoch: 9, leaderId: 2, failure: .fencedEpoch, snapshotId: RaftSnapshotId(endOffset: 3, lastEpoch: 2))),
        .fetchSnapshotResponse(
            FetchSnapshotResponse(
                epoch: 9, leaderId: 2, failure: .snapshotNotFound,
                snapshotId: RaftSnapshotId(endOffset: 3, lastEpoch: 2))),
    ]

    static func envelope(_ message: RaftMessage) -> RaftEnvelope {
        RaftEnvelope(clusterId: "cluster-ü", from: 2, message: message)
    }

    /// A frame's payload: what the server hands its handler (no size prefix).
    static func payload(_ envelope: RaftEnvelope, correlationId: UInt32 = 7) -> [UInt8] {
        Array(envelope.encodeFrame(correlationId: correlationId, clientId: "tern-raft-2").dropFirst(4))
    }

    func testEveryMessageRoundTrips() throws {
        for message in Self.samples {
            let envelope = Self.envelope(message)
            let frame = envelope.encodeFrame(correlationId: 99, clientId: "tern-raft-2")
            var prefix = ByteReader(frame)
            XCTAssertEqual(Int(try prefix.readUInt32()), frame.count - 4, "size prefix of \(message)")
            let (header, decoded) = try RaftEnvelope.decodeRequest(Array(frame.dropFirst(4)))
            XCTAssertEqual(decoded, envelope)
            XCTAssertEqual(header.apiKey, envelope.apiKey)
            XCTAssertEqual(header.apiVersion, 0)
            XCTAssertEqual(header.correlationId, 99)
            XCTAssertEqual(header.clientId, "tern-raft-2")
        }
        XCTAssertEqual(Self.envelope(Self.samples[0]).apiKey, .vote)
        XCTAssertEqual(Self.envelope(.beginQuorumEpoch(epoch: 1)).apiKey, .beginQuorumEpoch)
        XCTAssertEqual(Self.envelope(Self.samples[6]).apiKey, .quorumFetch)
        XCTAssertEqual(Self.envelope(.endQuorumEpoch(.init(epoch: 1, preferredSuccessors: []))).apiKey, .endQuorumEpoch)
        for message in Self.samples {
            switch message {
            case .fetchSnapshot, .fetchSnapshotResponse: XCTAssertEqual(Self.envelope(message).apiKey, .fetchSnapshot)
            default: continue
            }
        }
        // Every sample is a valid message too (the core would not refuse it as malformed), so the
        // codec is exercised on what voters really send.
        for message in Self.samples { XCTAssertNil(message.malformation, "\(message)") }
    }

    /// The fetch answer's snapshot id survives the codec (it once had no field for it).
    func testFetchResponseCarriesTheSnapshotId() throws {
        let message = RaftMessage.fetchResponse(
            FetchResponse(
                epoch: 4, leaderId: 1, fetchOffset: 2, lastFetchedEpoch: 1, highWatermark: 90,
                snapshotId: RaftSnapshotId(endOffset: 80, lastEpoch: 4)))
        let (_, decoded) = try RaftEnvelope.decodeRequest(Self.payload(Self.envelope(message)))
        guard case .fetchResponse(let response) = decoded.message else { return XCTFail("\(decoded)") }
        XCTAssertEqual(response.snapshotId, RaftSnapshotId(endOffset: 80, lastEpoch: 4))
    }

    /// The byte layouts of EndQuorumEpoch and FetchSnapshot (docs/protocol.md §7.22), pinned.
    func testEndQuorumEpochAndFetchSnapshotLayouts() throws {
        var writer = ByteWriter()
        RaftEnvelope(clusterId: "c", from: 3, message: .endQuorumEpoch(.init(epoch: 5, preferredSuccessors: [2, 1])))
            .encodeBody(into: &writer)
        XCTAssertEqual(
            writer.bytes,
            [0, 1, 0x63, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1])
        writer = ByteWriter()
        let request = FetchSnapshotRequest(
            epoch: 5, snapshotId: RaftSnapshotId(endOffset: 9, lastEpoch: 4), position: 7, maxBytes: 256)
        RaftEnvelope(clusterId: "c", from: 3, message: .fetchSnapshot(request)).encodeBody(into: &writer)
        XCTAssertEqual(
            writer.bytes,
            [0, 1, 0x63, 0, 0, 0, 3, 0]
                + [0, 0, 0, 0, 0, 0, 0, 5] + [0, 0, 0, 0, 0, 0, 0, 9] + [0, 0, 0, 0, 0, 0, 0, 4]
                + [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0, 1, 0])
        writer = ByteWriter()
        let answer = FetchSnapshotResponse(
            epoch: 5, leaderId: 3, snapshotId: RaftSnapshotId(endOffset: 9, lastEpoch: 4), size: 10, position: 8,
            chunk: [0xEE, 0xFF])
        RaftEnvelope(clusterId: "c", from: 3, message: .fetchSnapshotResponse(answer)).encodeBody(into: &writer)
        XCTAssertEqual(
            writer.bytes,
            [0, 1, 0x63, 0, 0, 0, 3, 1]
                + [0, 0, 0, 0, 0, 0, 0, 5] + [0, 0, 0, 3] + [0] + [0, 0, 0, 0, 0, 0, 0, 9] + [0, 0, 0, 0, 0, 0, 0, 4]
                + [0, 0, 0, 0, 0, 0, 0, 10] + [0, 0, 0, 0, 0, 0, 0, 8] + [0, 0, 0, 2, 0xEE, 0xFF])
    }

    /// Lengths and counts of the new messages are bounded before anything is allocated.
    func testOversizedSnapshotChunksAndSuccessorListsAreRefused() throws {
        func decode(_ key: ApiKey, _ body: [UInt8]) throws -> RaftEnvelope {
            var reader = ByteReader(body)
            return try RaftEnvelope(apiKey: key, version: 0, body: &reader)
        }
        func assertMalformed(_ key: ApiKey, _ body: [UInt8], _ what: String) {
            XCTAssertThrowsError(try decode(key, body), what) { error in
                XCTAssertEqual((error as? WireError)?.code, .malformed, "\(what): \(error)")
            }
        }
        func chunkBody(length: Int32, data: [UInt8], failure: UInt8 = 0) -> [UInt8] {
            var w = ByteWriter()
            w.writeString("c")
            w.write(Int32(1))
            w.write(UInt8(1))  // answer
            w.write(Int64(5))  // epoch
            w.write(Int32(1))  // leader
            w.write(failure)
            w.write(Int64(9))  // snapshot end
            w.write(Int64(4))  // snapshot epoch
            w.write(Int64(1 << 30))  // size
            w.write(Int64(0))  // position
            w.write(length)
            w.write(contentsOf: data)
            return w.bytes
        }
        func successorsBody(count: UInt32, ids: [Int32]) -> [UInt8] {
            var w = ByteWriter()
            w.writeString("c")
            w.write(Int32(1))
            w.write(UInt8(0))
            w.write(Int64(5))
            w.write(count)
            for id in ids { w.write(id) }
            return w.bytes
        }
        // The controls decode.
        XCTAssertNoThrow(try decode(.fetchSnapshot, chunkBody(length: 3, data: [1, 2, 3])))
        XCTAssertNoThrow(try decode(.endQuorumEpoch, successorsBody(count: 2, ids: [2, 3])))
        let big = FetchSnapshotRequest.maxChunkBytes + 1
        assertMalformed(
            .fetchSnapshot, chunkBody(length: Int32(big), data: [UInt8](repeating: 0, count: big)),
            "a chunk above the limit")
        assertMalformed(.fetchSnapshot, chunkBody(length: -1, data: []), "a negative chunk length")
        assertMalformed(.fetchSnapshot, chunkBody(length: 0, data: [], failure: 4), "an unknown failure code")
        XCTAssertThrowsError(try decode(.fetchSnapshot, chunkBody(length: 5, data: [1])), "chunk past the end")
        assertMalformed(.endQuorumEpoch, successorsBody(count: .max, ids: []), "count far beyond the bytes")
        let many = [Int32](repeating: 1, count: RaftWireLimits.maxSuccessors + 1)
        assertMalformed(.endQuorumEpoch, successorsBody(count: UInt32(many.count), ids: many), "too many successors")
        assertMalformed(.endQuorumEpoch, successorsBody(count: 1, ids: [-1]), "successor -1")
        assertMalformed(.endQuorumEpoch, successorsBody(count: 1, ids: [-7]), "a negative successor")
        // EndQuorumEpoch has no answer.
        var w = ByteWriter()
        w.writeString("c")
        w.write(Int32(1))
        w.write(UInt8(1))
        w.write(Int64(5))
        XCTAssertThrowsError(try decode(.endQuorumEpoch, w.bytes), "an EndQuorumEpoch answer")
    }

    /// The byte layout of docs/protocol.md §7.22, pinned for one message.
    func testBeginQuorumEpochLayout() throws {
        var writer = ByteWriter()
        RaftEnvelope(clusterId: "c", from: 3, message: .beginQuorumEpoch(epoch: 5)).encodeBody(into: &writer)
        XCTAssertEqual(writer.bytes, [0, 1, 0x63, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 5])
    }

    func testEveryTruncationIsRefused() throws {
        for message in Self.samples {
            let payload = Self.payload(Self.envelope(message))
            for length in 0..<payload.count {
                XCTAssertThrowsError(
                    try RaftEnvelope.decodeRequest(Array(payload[..<length])), "\(message) cut at \(length)")
            }
            XCTAssertThrowsError(try RaftEnvelope.decodeRequest(payload + [0]), "\(message) with a trailing byte")
        }
    }

    /// Random bytes, and valid frames with random bytes changed: decoding never traps, and what
    /// decodes is canonical (it re-encodes to the same bytes), so nothing is silently misread.
    func testRandomAndMutatedBytes() throws {
        let seed: UInt64 = 0x5EED_0011
        var random = SeededGenerator(seed: seed)
        var decodedCount = 0
        for round in 0..<20_000 {
            var payload: [UInt8]
            if round % 2 == 0 {
                payload = random.bytes(Int(random.next() % 120))
                if round % 4 == 0, payload.count >= 4 {
                    // A valid header start, so the body decoder gets exercised too.
                    let keys = RaftEnvelope.apiKeys
                    let key = keys[Int(random.next() % UInt64(keys.count))].rawValue
                    payload[0] = UInt8(key >> 8)
                    payload[1] = UInt8(key & 0xFF)
                    payload[2] = 0
                    payload[3] = 0
                }
            } else {
                let sample = Self.samples[Int(random.next() % UInt64(Self.samples.count))]
                payload = Self.payload(Self.envelope(sample))
                for _ in 0..<(1 + random.next() % 3) {
                    payload[Int(random.next() % UInt64(payload.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            guard let (header, envelope) = try? RaftEnvelope.decodeRequest(payload) else { continue }
            decodedCount += 1
            let again = Array(
                envelope.encodeFrame(correlationId: header.correlationId, clientId: header.clientId).dropFirst(4))
            XCTAssertEqual(again, payload, "seed \(seed) round \(round): decoded bytes are not canonical")
        }
        XCTAssertGreaterThan(decodedCount, 100, "the mutations should leave some frames valid")
    }

    func testOversizedCountsAndLengthsAreRefused() throws {
        func fetchResponseBody(count: UInt32, entries: [(Int64, Int32, [UInt8])]) -> [UInt8] {
            var w = ByteWriter()
            w.writeString("c")
            w.write(Int32(1))
            w.write(UInt8(1))  // answer
            w.write(Int64(5))  // epoch
            w.write(Int32(1))  // leader
            w.write(UInt8(0))  // no failure
            w.write(Int64(0))
            w.write(Int64(0))
            w.write(false)  // no divergence
            w.write(Int64(0))
            w.write(Int64(0))
            w.write(Int64(0))
            w.write(false)  // no snapshot id
            w.write(count)
            for (epoch, length, data) in entries {
                w.write(epoch)
                w.write(length)
                w.write(contentsOf: data)
            }
            return w.bytes
        }
        func decode(_ body: [UInt8]) throws -> RaftEnvelope {
            var reader = ByteReader(body)
            return try RaftEnvelope(apiKey: .quorumFetch, version: 0, body: &reader)
        }
        func assertMalformed(_ body: [UInt8], _ what: String) {
            XCTAssertThrowsError(try decode(body), what) { error in
                XCTAssertEqual((error as? WireError)?.code, .malformed, "\(what): \(error)")
            }
        }
        // The control: a well-formed body decodes.
        XCTAssertNoThrow(try decode(fetchResponseBody(count: 1, entries: [(5, 2, [9, 9])])))
        assertMalformed(fetchResponseBody(count: .max, entries: []), "count far beyond the bytes")
        assertMalformed(fetchResponseBody(count: 3, entries: [(5, 0, [])]), "count beyond the bytes")
        let many = Array(repeating: (Int64(5), Int32(0), [UInt8]()), count: RaftWireLimits.maxEntries + 1)
        assertMalformed(fetchResponseBody(count: UInt32(many.count), entries: many), "more entries than the limit")
        let big = Int32(RaftWireLimits.maxEntryBytes + 1)
        assertMalformed(
            fetchResponseBody(count: 1, entries: [(5, big, [UInt8](repeating: 0, count: Int(big)))]),
            "an entry above the size limit")
        assertMalformed(fetchResponseBody(count: 1, entries: [(5, -1, [])]), "a negative entry length")
        XCTAssertThrowsError(try decode(fetchResponseBody(count: 1, entries: [(5, 4, [1])])), "length past the end")
    }

    func testUnknownKeysVersionsKindsAndBooleansAreRefused() throws {
        let body: [UInt8] = {
            var w = ByteWriter()
            Self.envelope(Self.samples[0]).encodeBody(into: &w)
            return w.bytes
        }()
        var reader = ByteReader(body)
        XCTAssertThrowsError(try RaftEnvelope(apiKey: .fetch, version: 0, body: &reader))
        reader = ByteReader(body)
        XCTAssertThrowsError(try RaftEnvelope(apiKey: .vote, version: 1, body: &reader))
        var badKind = body
        badKind[2 + "cluster-ü".utf8.count + 4] = 2
        reader = ByteReader(badKind)
        XCTAssertThrowsError(try RaftEnvelope(apiKey: .vote, version: 0, body: &reader))
        var badBool = body
        badBool[badBool.count - 1] = 2
        reader = ByteReader(badBool)
        XCTAssertThrowsError(try RaftEnvelope(apiKey: .vote, version: 0, body: &reader))
        var negativeSender = body
        negativeSender[2 + "cluster-ü".utf8.count] = 0x80
        reader = ByteReader(negativeSender)
        XCTAssertThrowsError(try RaftEnvelope(apiKey: .vote, version: 0, body: &reader))
    }
}
