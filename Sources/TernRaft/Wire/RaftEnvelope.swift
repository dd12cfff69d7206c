import TernWire

/// A Raft message as it travels between voters on the controller listener: one request frame
/// of the native protocol, sent on the sender's own outbound connection and answered only by an
/// empty acknowledgement (docs/protocol.md §7.22). Answers of Raft (a vote, a fetch response)
/// travel the same way, as requests of their own on the answering node's connection, so the
/// core's `send(to:)` maps onto the transport without matching responses to requests.
///
/// ```
/// body = clusterId str16 | senderId i32 | kind u8 (0 request, 1 answer) | fields of the message
/// ```
public struct RaftEnvelope: Sendable, Equatable {
    /// The cluster the sender belongs to; a receiver configured with another refuses the message.
    public var clusterId: String
    /// The sending voter (the transport's only claim of who sent it).
    public var from: RaftNodeId
    public var message: RaftMessage

    public init(clusterId: String, from: RaftNodeId, message: RaftMessage) {
        self.clusterId = clusterId
        self.from = from
        self.message = message
    }

    /// The only version of the quorum APIs' layouts.
    public static let version: UInt16 = 0
    /// The API keys a Raft message travels under.
    public static let apiKeys: [ApiKey] = [.vote, .beginQuorumEpoch, .endQuorumEpoch, .fetchSnapshot, .quorumFetch]

    /// The API key of `message`: a request and its answer share the key, told apart by `kind`.
    public var apiKey: ApiKey {
        switch message {
        case .vote, .voteResponse: .vote
        case .beginQuorumEpoch, .beginQuorumEpochResponse: .beginQuorumEpoch
        case .fetch, .fetchResponse: .quorumFetch
        case .endQuorumEpoch: .endQuorumEpoch
        case .fetchSnapshot, .fetchSnapshotResponse: .fetchSnapshot
        }
    }

    /// Encodes a complete request frame, size prefix included.
    public func encodeFrame(correlationId: UInt32, clientId: String) -> [UInt8] {
        var writer = ByteWriter(capacity: 96)
        writer.write(UInt32(0))
        RequestHeader(apiKey: apiKey, apiVersion: Self.version, correlationId: correlationId, clientId: clientId)
            .encode(into: &writer)
        encodeBody(into: &writer)
        writer.patch(UInt32(writer.count - Frame.prefixSize), at: 0)
        return writer.take()
    }

    /// Encodes the body (what follows the request header).
    public func encodeBody(into writer: inout ByteWriter) {
        writer.writeString(clusterId)
        writer.write(from)
        message.encodeWire(into: &writer)
    }

    /// Decodes a body of `apiKey` at `version`; it must fill the reader exactly.
    /// - Throws: ``WireError``: `.unsupportedVersion` for another version or a key that is not a
    ///   Raft API, `.truncated`/`.malformed` for bytes that are not a valid message of that key.
    public init(apiKey: ApiKey, version: UInt16, body reader: inout ByteReader) throws {
        guard Self.apiKeys.contains(apiKey) else {
            throw WireError(.unsupportedVersion, "\(apiKey) is not a quorum API")
        }
        guard version == Self.version else {
            throw WireError(.unsupportedVersion, "\(apiKey) version \(version); this build speaks \(Self.version)")
        }
        clusterId = try reader.readString("clusterId")
        from = try reader.readInt32("senderId")
        guard from >= 0 else { throw WireError(.malformed, "senderId \(from) is negative") }
        message = try RaftMessage(wireKey: apiKey, from: &reader)
        guard reader.isAtEnd else {
            throw WireError(.malformed, "\(apiKey): \(reader.remaining) bytes after the message")
        }
    }

    /// Decodes a request frame's payload (without its size prefix): header, then envelope.
    /// - Throws: ``WireError`` as ``init(apiKey:version:body:)``, or for an unreadable header.
    public static func decodeRequest(_ payload: [UInt8]) throws -> (header: RequestHeader, envelope: RaftEnvelope) {
        var reader = ByteReader(payload)
        let header = try RequestHeader(from: &reader)
        let envelope = try RaftEnvelope(apiKey: header.apiKey, version: header.apiVersion, body: &reader)
        return (header, envelope)
    }
}

/// Bounds a receiver enforces on a Raft message before it allocates for it.
public enum RaftWireLimits {
    /// Most entries one fetch response may carry (a node's `maxFetchEntries` must not exceed it).
    public static let maxEntries = 4096
    /// Largest payload of one entry. A proposal with a larger payload is refused by the host:
    /// no voter could receive it.
    public static let maxEntryBytes = 1 << 20
    /// Fixed bytes of one entry on the wire: epoch i64 and the payload's i32 length.
    public static let entryOverhead = 12
    /// Most successors one EndQuorumEpoch may name (far above any quorum's size).
    public static let maxSuccessors = 256
}
