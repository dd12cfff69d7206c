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
            w.write(UInt32(m.entries.count))
            for e in m.entries {
                w.write(e.epoch)
                w.write(Int32(e.data.count))
                w.write(contentsOf: e.data)
            }
        }
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
            entries: entries, highWatermark: highWatermark)
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
