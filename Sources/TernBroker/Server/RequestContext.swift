import TernNet
import TernWire

/// One request being answered: where the answer goes and the header it must echo.
struct RequestContext: Sendable {
    let connection: ServerConnection
    let ticket: ResponseTicket
    let header: RequestHeader

    /// Sends a complete response body.
    func respond<R: WireResponse>(_ response: R) {
        connection.respond(ticket, Frame.response(response, correlationId: header.correlationId))
    }

    /// Sends a body-less response whose top-level status is an error.
    func respond(error status: ResponseStatus) {
        connection.respond(ticket, Frame.errorResponse(correlationId: header.correlationId, status: status))
    }

    /// Sends a response assembled from chunks (bytes and file regions).
    func respond(chunks: [OutboundChunk]) {
        connection.respond(ticket, chunks)
    }

    /// Releases the request's slot without a response (acks=0 produce).
    func noResponse() {
        connection.noResponse(ticket)
    }
}
