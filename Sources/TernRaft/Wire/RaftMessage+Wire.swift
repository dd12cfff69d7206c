import TernWire

/// The field layouts of the Raft messages (docs/protocol.md §7.22). Epochs and offsets are i64;
/// node ids i32 with -1 for "none"; booleans a byte that must be 0 or 1. Whether the values make
/// sense together is ``RaftMessage/malformation``'s to judge, in the node: the codec refuses
/// only what cannot be represented.
extension RaftMessage {
    /// `kind` byte: a request, or the answer travelling under the same key.
    enum WireKind: UInt8 {
        case request = 0
        case answer = 1
    }

    func encodeWire(into w: inout ByteWriter) {
        switch self {
        case .vote(let m):
            w.write(WireKind.request.rawValue)
            w.write(m.epoch)
            w.write(m.lastEpoch)
            w.write(m.endOffset)
            w.write(m.preVote)
        case .voteResponse(let m):
            w.write(WireKind.answer.rawValue)
            w.write(m.epoch)
            w.write(m.candidateEpoch)
            w.write(m.granted)
            w.write(m.preVote)
            w.write(m.leaderId ?? -1)
        case .beginQuorumEpoch(let epoch):
            w.write(WireKind.request.rawValue)
            w.write(epoch)
        case .beginQuorumEpochResponse(let epoch):
            w.write(WireKind.answer.rawValue)
            w.write(epoch)
        case .fetch(let m):
            w.write(WireKind.request.rawValue)
            w.write(m.epoch)
            w.write(m.fetchOffset)
            w.write(m.lastFetchedEpoch)
        case .fetchResponse(let m):
            w.write(WireKind.answer.rawValue)
            w.write(m.epoch)
            w.write(m.leaderId ?? -1)
            w.write(Self.failureCode(m.failure))
            w.write(m.fetchOffset)
            w.write(m.lastFetchedEpoch)
            if let d = m.diverging {
                w.write(true)
                w.write(d.epoch)
                w.write(d.endOffset)
            } else {
                w.write(false)
            }
            w.write(m.startOffset)
            w.write(m.prevEpoch)
            w.write(m.highWatermark)
            if let id = m.snapshotId {
                w.write(true)
                Self.writeSnapshotId(id, into: &w)
            } else {
                w.write(false)
            }
            w.write(UInt32(m.entries.count))
            for e in m.entries {
                w.write(e.epoch)
                w.write(Int32(e.data.count))
                w.write(contentsOf: e.data)
            }
        case .endQuorumEpoch(let m):
            w.write(WireKind.request.rawValue)
            w.write(m.epoch)
            w.write(UInt32(m.preferredSuccessors.count))
            for id in m.preferredSuccessors { w.write(id) }
        case .fetchSnapshot(let m):
            w.write(WireKind.request.rawValue)
            w.write(m.epoch)
            Self.writeSnapshotId(m.snapshotId, into: &w)
            w.write(m.position)
            // The core asks for at most `maxChunkBytes`; clamping keeps a caller's larger value
            // from trapping (the receiver refuses it as malformed).
            w.write(Int32(clamping: m.maxBytes))
        case .fetchSnapshotResponse(let m):
            w.write(WireKind.answer.rawValue)
            w.write(m.epoch)
            w.write(m.leaderId ?? -1)
            w.write(Self.snapshotFailureCode(m.failure))
            Self.writeSnapshotId(m.snapshotId, into: &w)
            w.write(m.size)
            w.write(m.position)
            w.write(Int32(m.chunk.count))
            w.write(contentsOf: m.chunk)
        }
    }

    private static func writeSnapshotId(_ id: RaftSnapshotId, into w: inout ByteWriter) {
        w.write(id.endOffset)
        w.write(id.lastEpoch)
    }

    private static func readSnapshotId(_ r: inout ByteReader) throws -> RaftSnapshotId {
        RaftSnapshotId(endOffset: try r.readInt64("snapshotEndOffset"), lastEpoch: try r.readInt64("snapshotLastEpoch"))
    }

    init(wireKey key: ApiKey, from r: inout ByteReader) throws {
        let rawKind = try r.readUInt8("kind")
        guard let kind = WireKind(rawValue: rawKind) else {
            throw WireError(.malformed, "\(key): kind \(rawKind) is neither 0 (request) nor 1 (answer)")
        }
        switch (key, kind) {
        case (.vote, .request):
            self = .vote(
                VoteRequest(
                    epoch: try r.readInt64("epoch"), lastEpoch: try r.readInt64("lastEpoch"),
                    endOffset: try r.readInt64("endOffset"), preVote: try Self.readStrictBool(&r, "preVote")))
        case (.vote, .answer):
            self = .voteResponse(
                VoteResponse(
                    epoch: try r.readInt64("epoch"), candidateEpoch: try r.readInt64("candidateEpoch"),
                    granted: try Self.readStrictBool(&r, "granted"), preVote: try Self.readStrictBool(&r, "preVote"),
                    leaderId: try Self.readNodeId(&r, "leaderId")))
        case (.beginQuorumEpoch, .request):
            self = .beginQuorumEpoch(epoch: try r.readInt64("epoch"))
        case (.beginQuorumEpoch, .answer):
            self = .beginQuorumEpochResponse(epoch: try r.readInt64("epoch"))
        case (.quorumFetch, .request):
            self = .fetch(
                FetchRequest(
                    epoch: try r.readInt64("epoch"), fetchOffset: try r.readInt64("fetchOffset"),
                    lastFetchedEpoch: try r.readInt64("lastFetchedEpoch")))
        case (.quorumFetch, .answer):
            self = .fetchResponse(try Self.readFetchResponse(&r))
        case (.endQuorumEpoch, .request):
            let epoch = try r.readInt64("epoch")
            let count = try r.readArrayCount("preferredSuccessors", minElementSize: 4)
            guard count <= RaftWireLimits.maxSuccessors else {
                throw WireError(
                    .malformed, "preferredSuccessors: \(count) above the limit of \(RaftWireLimits.maxSuccessors)")
            }
            var successors: [RaftNodeId] = []
            successors.reserveCapacity(count)
            for _ in 0..<count {
                guard let id = try Self.readNodeId(&r, "preferredSuccessor") else {
                    throw WireError(.malformed, "preferredSuccessors: -1 is not a node id")
                }
                successors.append(id)
            }
            self = .endQuorumEpoch(EndQuorumEpochRequest(epoch: epoch, preferredSuccessors: successors))
        case (.fetchSnapshot, .request):
            self = .fetchSnapshot(
                FetchSnapshotRequest(
                    epoch: try r.readInt64("epoch"), snapshotId: try Self.readSnapshotId(&r),
                    position: try r.readInt64("position"), maxBytes: Int(try r.readInt32("maxBytes"))))
        case (.fetchSnapshot, .answer):
            self = .fetchSnapshotResponse(try Self.readFetchSnapshotResponse(&r))
        default:
            throw WireError(.unsupportedVersion, "\(key) is not a quorum API")
        }
    }

    private static func readFetchResponse(_ r: inout ByteReader) throws -> FetchResponse {
        let epoch = try r.readInt64("epoch")
        let leaderId = try readNodeId(&r, "leaderId")
        let failure = try readFailure(&r)
        let fetchOffset = try r.readInt64("fetchOffset")
        let lastFetchedEpoch = try r.readInt64("lastFetchedEpoch")
        var diverging: FetchResponse.Divergence?
        if try readStrictBool(&r, "hasDiverging") {
            diverging = .init(
                epoch: try r.readInt64("divergingEpoch"), endOffset: try r.readInt64("divergingEndOffset"))
        }
        let startOffset = try r.readInt64("startOffset")
        let prevEpoch = try r.readInt64("prevEpoch")
        let highWatermark = try r.readInt64("highWatermark")
        let snapshotId = try readStrictBool(&r, "hasSnapshotId") ? try readSnapshotId(&r) : nil
        let count = try r.readArrayCount("entries", minElementSize: RaftWireLimits.entryOverhead)
        guard count <= RaftWireLimits.maxEntries else {
            throw WireError(.malformed, "entries: \(count) above the limit of \(RaftWireLimits.maxEntries)")
        }
        var entries: [RaftEntry] = []
        entries.reserveCapacity(count)
        for i in 0..<count {
            let entryEpoch = try r.readInt64("entry epoch")
            let length = try r.readInt32("entry length")
            guard length >= 0, Int(length) <= RaftWireLimits.maxEntryBytes else {
                throw WireError(
                    .malformed, "entry \(i): length \(length) outside 0…\(RaftWireLimits.maxEntryBytes)")
            }
            entries.append(RaftEntry(epoch: entryEpoch, data: try r.readBytes(count: Int(length), "entry data")))
        }
        return FetchResponse(
            epoch: epoch, leaderId: leaderId, failure: failure, fetchOffset: fetchOffset,
            lastFetchedEpoch: lastFetchedEpoch, diverging: diverging, startOffset: startOffset, prevEpoch: prevEpoch,
            entries: entries, highWatermark: highWatermark, snapshotId: snapshotId)
    }

    private static func readFetchSnapshotResponse(_ r: inout ByteReader) throws -> FetchSnapshotResponse {
        let epoch = try r.readInt64("epoch")
        let leaderId = try readNodeId(&r, "leaderId")
        let failure: FetchSnapshotResponse.Failure?
        switch try r.readUInt8("failure") {
        case 0: failure = nil
        case 1: failure = .notLeader
        case 2: failure = .fencedEpoch
        case 3: failure = .snapshotNotFound
        case let other: throw WireError(.malformed, "failure: unknown code \(other)")
        }
        let snapshotId = try readSnapshotId(&r)
        let size = try r.readInt64("size")
        let position = try r.readInt64("position")
        let length = try r.readInt32("chunk length")
        // Checked before the chunk is allocated.
        guard length >= 0, Int(length) <= FetchSnapshotRequest.maxChunkBytes else {
            throw WireError(.malformed, "chunk: length \(length) outside 0…\(FetchSnapshotRequest.maxChunkBytes)")
        }
        let chunk = try r.readBytes(count: Int(length), "chunk")
        return FetchSnapshotResponse(
            epoch: epoch, leaderId: leaderId, failure: failure, snapshotId: snapshotId, size: size, position: position,
            chunk: chunk)
    }

    private static func snapshotFailureCode(_ failure: FetchSnapshotResponse.Failure?) -> UInt8 {
        switch failure {
        case nil: 0
        case .notLeader?: 1
        case .fencedEpoch?: 2
        case .snapshotNotFound?: 3
        }
    }

    private static func failureCode(_ failure: FetchResponse.Failure?) -> UInt8 {
        switch failure {
        case nil: 0
        case .notLeader?: 1
        case .fencedEpoch?: 2
        }
    }

    private static func readFailure(_ r: inout ByteReader) throws -> FetchResponse.Failure? {
        switch try r.readUInt8("failure") {
        case 0: return nil
        case 1: return .notLeader
        case 2: return .fencedEpoch
        case let other: throw WireError(.malformed, "failure: unknown code \(other)")
        }
    }

    private static func readStrictBool(_ r: inout ByteReader, _ what: String) throws -> Bool {
        switch try r.readUInt8(what) {
        case 0: return false
        case 1: return true
        case let other: throw WireError(.malformed, "\(what): \(other) is not a boolean (0 or 1)")
        }
    }

    /// A node id, -1 for none; other negative ids are malformed.
    private static func readNodeId(_ r: inout ByteReader, _ what: String) throws -> RaftNodeId? {
        let id = try r.readInt32(what)
        if id == -1 { return nil }
        guard id >= 0 else { throw WireError(.malformed, "\(what): \(id) is neither -1 nor a node id") }
        return id
    }
}
