import TernRaft
import TernWire

/// A request frame's payload on the controller listener, as `RaftEnvelope.decodeRequest` reads it:
/// the request header, then the envelope of every quorum key (Vote, BeginQuorumEpoch,
/// EndQuorumEpoch, FetchSnapshot, QuorumFetch), request or answer.
enum RaftWireTarget {
    static let target = FuzzTarget(
        name: "raft-wire", maxLength: 4096, summary: "RaftEnvelope.decodeRequest (every quorum key, both kinds)",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        let bytes = [UInt8](input)
        guard let (header, envelope) = try? RaftEnvelope.decodeRequest(bytes) else { return }
        // The node judges the values; judging must not trap on anything the codec let through.
        _ = envelope.message.malformation
        fuzzCheck(envelope.apiKey == header.apiKey, "\(header.apiKey): decoded as a message of \(envelope.apiKey)")
        // The codec is strict (booleans 0/1, -1 the only "none"): one encoding per message, so the
        // frame re-encodes to exactly the bytes it came from.
        let frame = envelope.encodeFrame(correlationId: header.correlationId, clientId: header.clientId)
        fuzzCheck(Array(frame.dropFirst(Frame.prefixSize)) == bytes, "\(header.apiKey): re-encoding differs")
        guard let (_, again) = try? RaftEnvelope.decodeRequest(Array(frame.dropFirst(Frame.prefixSize))) else {
            fuzzFail("\(header.apiKey): its own encoding does not decode")
        }
        fuzzCheck(again == envelope, "\(header.apiKey): decode∘encode changed the message")
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let snapshot = RaftSnapshotId(endOffset: 120, lastEpoch: 3)
        let messages: [(String, RaftMessage)] = [
            ("vote", .vote(VoteRequest(epoch: 4, lastEpoch: 3, endOffset: 120, preVote: true))),
            ("vote-answer", .voteResponse(VoteResponse(epoch: 4, candidateEpoch: 4, granted: true, preVote: false))),
            ("begin-quorum-epoch", .beginQuorumEpoch(epoch: 4)),
            ("begin-quorum-epoch-answer", .beginQuorumEpochResponse(epoch: 4)),
            ("end-quorum-epoch", .endQuorumEpoch(EndQuorumEpochRequest(epoch: 4, preferredSuccessors: [2, 3]))),
            ("fetch", .fetch(FetchRequest(epoch: 4, fetchOffset: 118, lastFetchedEpoch: 3))),
            (
                "fetch-answer",
                .fetchResponse(
                    FetchResponse(
                        epoch: 4, leaderId: 1, fetchOffset: 118, lastFetchedEpoch: 3, startOffset: 118, prevEpoch: 3,
                        entries: [RaftEntry(epoch: 4, data: [0, 0, 0, 1, 0, 1, 0, 0]), RaftEntry(epoch: 4, data: [])],
                        highWatermark: 119))
            ),
            (
                "fetch-answer-diverging",
                .fetchResponse(
                    FetchResponse(
                        epoch: 4, leaderId: nil, failure: .fencedEpoch, fetchOffset: 118, lastFetchedEpoch: 2,
                        diverging: .init(epoch: 2, endOffset: 100), snapshotId: snapshot))
            ),
            (
                "fetch-snapshot",
                .fetchSnapshot(FetchSnapshotRequest(epoch: 4, snapshotId: snapshot, position: 0, maxBytes: 65536))
            ),
            (
                "fetch-snapshot-answer",
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(
                        epoch: 4, leaderId: 1, snapshotId: snapshot, size: 10, position: 4, chunk: [1, 2, 3, 4, 5, 6]))
            ),
            (
                "fetch-snapshot-not-found",
                .fetchSnapshotResponse(
                    FetchSnapshotResponse(epoch: 4, leaderId: 2, failure: .snapshotNotFound, snapshotId: snapshot))
            ),
        ]
        return messages.map { name, message in
            let frame = RaftEnvelope(clusterId: "3Hh2Tq6sSU2b1DwnEJmQ9w", from: 1, message: message)
                .encodeFrame(correlationId: 9, clientId: "quorum-1")
            return (name: name, bytes: Array(frame.dropFirst(Frame.prefixSize)))
        }
    }
}
