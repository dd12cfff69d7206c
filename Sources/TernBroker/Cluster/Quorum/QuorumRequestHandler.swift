import Logging
import Synchronization
import TernNet
import TernRaft
import TernWire

/// Serves the controller listener: decodes each Raft request (docs/protocol.md §7.22), refuses
/// what is not from another voter of this cluster (or an observer's fetch), hands the rest to the
/// driver and acknowledges it. An observer's fetch is acknowledged with the answer in the
/// response, once the core has stepped it: an observer has no listener of its own. Garbage (an unreadable header, a body that does not decode) closes the
/// connection; every refusal is logged at a rate limit and changes no state.
final class QuorumRequestHandler: ServerConnectionHandler {
    private let nodeId: RaftNodeId
    private let voters: Set<RaftNodeId>
    private let maxSnapshotBytes: Int
    /// This voter's cluster id now ("" while unknown).
    private let clusterId: @Sendable () -> String
    private let controllerRequests: QuorumDriver.ControllerRequestHandler?
    /// The broker-to-controller APIs this listener hands to `controllerRequests`; every other key
    /// must be a Raft message.
    private let controllerApis: Set<ApiKey>
    private let logger: Logger
    private let warnings: LogRateLimiter
    /// Hands a message to the driver; for an observer's request with the function that sends the
    /// core's answer (nil: none) back as the response.
    typealias Deliver =
        @Sendable (RaftNodeId, RaftMessage, (@Sendable (RaftEnvelope?) -> Void)?) -> Void
    private let deliver: Deliver
    /// CLUSTER_ACTION of each request (``QuorumConfiguration/authorizeRequest``); nil: unchecked.
    private let authorize: (@Sendable (String, String, ApiKey) -> Bool)?
    /// Requests refused here (not counting what the Raft core itself refuses).
    let refusedCount = Atomic<Int>(0)

    init(
        configuration: QuorumConfiguration, logger: Logger, warnings: LogRateLimiter,
        clusterId: @escaping @Sendable () -> String, controllerApis: Set<ApiKey> = [],
        controllerRequests: QuorumDriver.ControllerRequestHandler? = nil, deliver: @escaping Deliver
    ) {
        nodeId = configuration.nodeId
        voters = Set(configuration.voters)
        maxSnapshotBytes = configuration.maxSnapshotBytes
        self.clusterId = clusterId
        self.controllerRequests = controllerRequests
        self.controllerApis = controllerApis
        self.logger = logger
        self.warnings = warnings
        self.deliver = deliver
        authorize = configuration.authorizeRequest
    }

    func connection(
        _ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket
    ) {
        var reader = ByteReader(Array(frame))
        guard let header = try? RequestHeader(from: &reader) else {
            refuse(connection, "unreadable request header; closing the connection", [:])
            connection.noResponse(ticket)
            connection.close()
            return
        }
        if let authorize {
            // Before anything is decoded or stepped: a node's certificate is its principal
            // (the listener required one), as on client listeners with mutual TLS.
            let principal = connection.peerCertificateSubject.map { "User:\($0)" } ?? "User:ANONYMOUS"
            guard authorize(principal, connection.host, header.apiKey) else {
                refusedCount.add(1, ordering: .relaxed)
                let status = ResponseStatus(
                    .clusterAuthorizationFailed, "\(principal) may not CLUSTER_ACTION on the controller listener")
                connection.respond(ticket, Frame.errorResponse(correlationId: header.correlationId, status: status))
                return
            }
        }
        if let controllerRequests, controllerApis.contains(header.apiKey) {
            let body = (try? reader.readBytes(count: reader.remaining, "body")) ?? []
            controllerRequests(header, body) { connection.respond(ticket, $0) }
            return
        }
        let envelope: RaftEnvelope
        do {
            envelope = try RaftEnvelope(apiKey: header.apiKey, version: header.apiVersion, body: &reader)
        } catch {
            let code: ErrorCode =
                (error as? WireError)?.code == .unsupportedVersion ? .unsupportedVersion : .invalidRequest
            refuse(connection, "undecodable quorum request; closing the connection", ["error": "\(error)"])
            connection.respond(
                ticket, Frame.errorResponse(correlationId: header.correlationId, status: .init(code, "\(error)")))
            connection.close()
            return
        }
        let refusal: ResponseStatus?
        // Before the first controller has written the cluster id, voters send "" (not yet known);
        // that is accepted, so a new cluster can elect its first leader. Two known ids must match.
        let localClusterId = clusterId()
        if !envelope.clusterId.isEmpty, !localClusterId.isEmpty, envelope.clusterId != localClusterId {
            refusal = ResponseStatus(
                .inconsistentClusterId, "cluster id \(envelope.clusterId) is not this voter's \(localClusterId)")
        } else if envelope.from == nodeId || (!voters.contains(envelope.from) && !Self.isObserverRequest(envelope)) {
            refusal = ResponseStatus(
                .inconsistentVoterSet,
                "node \(envelope.from) is not another voter of \(voters.sorted()) (an observer may only fetch)")
        } else {
            refusal = nil
        }
        if let refusal {
            refuse(connection, "refused quorum request", ["error": "\(refusal)", "tern_api": "\(header.apiKey)"])
            connection.respond(ticket, Frame.errorResponse(correlationId: header.correlationId, status: refusal))
            return
        }
        if case .fetchSnapshotResponse(let answer) = envelope.message, answer.failure == nil,
            answer.size > Int64(maxSnapshotBytes)
        {
            // The follower would buffer the whole snapshot before installing it: a leader (or a
            // lie) announcing more than this node takes never gets its first chunk kept.
            refuse(
                connection, "refused a snapshot larger than maxSnapshotBytes",
                ["tern_size": "\(answer.size)", "tern_max": "\(maxSnapshotBytes)", "tern_voter": "\(envelope.from)"])
            connection.respond(ticket, Frame.errorResponse(correlationId: header.correlationId, status: .ok))
            return
        }
        let correlationId = header.correlationId
        if !voters.contains(envelope.from) {
            // An observer: the core's answer is the response (docs/protocol.md §7.22).
            deliver(envelope.from, envelope.message) { answer in
                connection.respond(ticket, Self.answerFrame(answer, correlationId: correlationId))
            }
            return
        }
        deliver(envelope.from, envelope.message, nil)
        connection.respond(ticket, Frame.errorResponse(correlationId: correlationId, status: .ok))
    }

    /// The requests an observer (a node outside the voters) may send.
    static func isObserverRequest(_ envelope: RaftEnvelope) -> Bool {
        switch envelope.message {
        case .fetch, .fetchSnapshot: true
        default: false
        }
    }

    /// The response to an observer's request: status NONE, then the answer's key and envelope
    /// body when there is one (nothing more when the core did not answer).
    static func answerFrame(_ answer: RaftEnvelope?, correlationId: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: 96)
        Frame.beginResponse(&writer, correlationId: correlationId)
        if let answer {
            writer.write(answer.apiKey.rawValue)
            answer.encodeBody(into: &writer)
        }
        Frame.finish(&writer)
        return writer.take()
    }

    private func refuse(_ connection: ServerConnection, _ message: Logger.Message, _ metadata: Logger.Metadata) {
        refusedCount.add(1, ordering: .relaxed)
        var metadata = metadata
        metadata["tern_peer"] = "\(connection.peer)"
        warnings.warning(logger, message, metadata: metadata)
    }

    func connectionDidClose(_ connection: ServerConnection) {}
}
