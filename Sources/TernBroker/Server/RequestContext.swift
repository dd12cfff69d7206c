import TernNet
import TernWire

/// One request being answered: where the answer goes, the header it must echo, and the metrics
/// its completion counts in (latency from arrival to answer, errors).
struct RequestContext: Sendable {
    let connection: ServerConnection
    let ticket: ResponseTicket
    let header: RequestHeader
    let metrics: ApiMetrics
    /// When the frame arrived (monotonic nanoseconds).
    let receivedAt: UInt64
    /// The index in `listeners` of the listener the request came in on.
    var listener = 0
    /// The request's authorization; nil when `authorizer.enable` is false (then nothing is checked).
    var access: RequestAccess?
    /// Applied to the response before it is sent: puts back, in request order, the entries the
    /// authorizer took out of the request (their TOPIC/GROUP_AUTHORIZATION_FAILED results), and
    /// drops listed resources the principal may not see. Nil unless something was denied.
    var amend: ResponseAmendment?

    /// Who sent the request, as ACLs name it: the SASL-authenticated user, else the subject of
    /// the verified client certificate (`User:CN=app,O=Example`: Kafka's default
    /// `ssl.principal.mapping.rules`), else `User:ANONYMOUS`.
    var principal: String { Self.principal(of: connection) }

    /// The principal of a connection: the one place that decides it (see ``principal``).
    static func principal(of connection: ServerConnection) -> String {
        if let user = connection.authenticatedPrincipal { return user }
        if let subject = connection.peerCertificateSubject { return "User:" + subject }
        return "User:ANONYMOUS"
    }

    /// Sends a complete response body.
    func respond<R: WireResponse>(_ response: R) {
        completed()
        var response = response
        if let amend, let amended = amend.apply(response) as? R { response = amended }
        connection.respond(
            ticket, Frame.response(response, correlationId: header.correlationId, version: header.apiVersion))
    }

    /// Sends a body-less response whose top-level status is an error.
    func respond(error status: ResponseStatus) {
        metrics.failed(status.errorCode)
        completed()
        connection.respond(ticket, Frame.errorResponse(correlationId: header.correlationId, status: status))
    }

    /// Sends a response assembled from chunks (bytes and file regions).
    func respond(chunks: [OutboundChunk]) {
        completed()
        connection.respond(ticket, chunks)
    }

    /// Releases the request's slot without a response (acks=0 produce).
    func noResponse() {
        completed()
        connection.noResponse(ticket)
    }

    private func completed() {
        metrics.completed(afterNanoseconds: RequestMetrics.now() &- receivedAt)
    }
}

/// A change to a response before it goes out (see ``RequestContext/amend``): takes the
/// handler's response and returns the one to send, of the same type.
struct ResponseAmendment: Sendable {
    let apply: @Sendable (any WireResponse) -> any WireResponse

    /// An amendment for responses of type `R`; other types pass unchanged.
    static func of<R: WireResponse>(_: R.Type, _ body: @escaping @Sendable (R) -> R) -> ResponseAmendment {
        ResponseAmendment { response in
            guard let typed = response as? R else { return response }
            return body(typed)
        }
    }
}
