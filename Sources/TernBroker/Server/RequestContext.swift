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

    /// Sends a complete response body.
    func respond<R: WireResponse>(_ response: R) {
        completed()
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
