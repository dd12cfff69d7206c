import Dispatch
import TernWire

/// The broker-to-controller requests a voter's controller listener serves besides Raft messages
/// (docs/protocol.md §7.22), each decided by the active controller on its queue. The one list of
/// them: the quorum's listener hands exactly these keys (and DescribeQuorum, which the node
/// answers from its driver) to ``serve(_:_:_:_:)``; every other key must be a Raft message.
enum ControllerListenerApis {
    /// Decodes a request's body and has the controller decide it; the response frame goes to
    /// `respond`.
    typealias Serve =
        @Sendable (ActiveController, RequestHeader, inout ByteReader, @escaping @Sendable ([UInt8]) -> Void) throws ->
        Void

    static let table: [ApiKey: Serve] = [
        .brokerRegistration: api(BrokerRegistrationRequest.self) { $0.register($1, reply: $2) },
        .brokerHeartbeat: api(BrokerHeartbeatRequest.self) { $0.heartbeat($1, reply: $2) },
        .envelope: api(EnvelopeRequest.self) { ForwardedApis.serve($1, on: $0, reply: $2) },
        // Another node's bootstrap users (only voters reach the controller listener).
        .alterUserScramCredentials: api(AlterUserScramCredentialsRequest.self) { controller, request, reply in
            controller.alterScramCredentials(request) { response, _ in reply(response) }
        },
        .allocateProducerIds: api(AllocateProducerIdsRequest.self) { $0.allocateProducerIds($1, reply: $2) },
        .alterPartition: api(AlterPartitionRequest.self) { $0.alterPartition($1, reply: $2) },
    ]

    /// Every key the controller listener hands to the node rather than to Raft.
    static let keys: Set<ApiKey> = Set(table.keys).union([.describeQuorum])

    /// An entry for `R`: decodes the whole body as `R`, then decides it on the controller's queue
    /// with `decide`.
    private static func api<R: WireRequest>(
        _: R.Type,
        _ decide: @escaping @Sendable (ActiveController, R, @escaping @Sendable (R.Response) -> Void) -> Void
    ) -> Serve {
        { controller, header, reader, respond in
            let request = try R(from: &reader)
            guard reader.isAtEnd else {
                throw WireError(.malformed, "\(reader.remaining) unexpected bytes after the body")
            }
            let correlationId = header.correlationId
            controller.queue.async {
                decide(controller, request) { respond(Frame.response($0, correlationId: correlationId)) }
            }
        }
    }

    /// Serves one request of ``table`` on a controller-listener connection: UNSUPPORTED_VERSION
    /// for a key it does not hold, INVALID_REQUEST for a body that does not decode.
    static func serve(
        _ controller: ActiveController, _ header: RequestHeader, _ body: [UInt8],
        _ respond: @escaping @Sendable ([UInt8]) -> Void
    ) {
        guard let serve = table[header.apiKey] else {
            return respond(
                Frame.errorResponse(
                    correlationId: header.correlationId,
                    status: ResponseStatus(.unsupportedVersion, "\(header.apiKey) is not served here")))
        }
        var reader = ByteReader(body)
        do {
            try serve(controller, header, &reader, respond)
        } catch {
            respond(
                Frame.errorResponse(
                    correlationId: header.correlationId,
                    status: ResponseStatus(.invalidRequest, "\(header.apiKey): \(error)")))
        }
    }
}
