import Logging
import TernNet

/// Answers the admin listener's HTTP/1.1 requests, one per frame that ``HTTPRequestFramer``
/// delimits: `GET /metrics`, `/health/live`, `/health/ready`, `/v1/cluster`; 404 for other
/// paths, 405 for other methods, and a 4xx/5xx followed by a close for a request it cannot parse.
struct AdminRouter: ServerConnectionHandler {
    let broker: Broker
    let adminListeners: @Sendable () -> [String]
    /// Renders the metrics registry in the Prometheus text format.
    let renderMetrics: @Sendable () -> [UInt8]
    let logger: Logger

    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    func connection(
        _ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket
    ) {
        let head: HTTPRequestHead
        do throws(HTTPRequestError) {
            guard let end = HTTPRequestFramer.headEnd(in: frame, upTo: min(frame.count, HTTPRequestHead.maxHeadBytes))
            else {
                throw frame.count >= HTTPRequestHead.maxHeadBytes
                    ? HTTPRequestError(431, "request line and headers exceed \(HTTPRequestHead.maxHeadBytes) bytes")
                    : HTTPRequestError(400, "not an HTTP request")
            }
            head = try HTTPRequestHead.parse(UnsafeRawBufferPointer(rebasing: frame[0..<end]))
        } catch {
            logger.debug(
                "refused admin request", metadata: ["tern_peer": "\(connection.peer)", "error": "\(error)"])
            connection.respond(ticket, HTTPResponse(status: error.status, text: error.reason).encoded(close: true))
            connection.close()
            return
        }
        let response = respond(to: head)
        connection.respond(ticket, response.encoded(close: !head.keepAlive))
        if !head.keepAlive { connection.close() }
    }

    func respond(to head: HTTPRequestHead) -> HTTPResponse {
        let routes: Set<String> = ["/metrics", "/health/live", "/health/ready", "/v1/cluster"]
        guard routes.contains(head.path) else {
            return HTTPResponse(status: 404, text: "no such endpoint: \(head.path)")
        }
        guard head.method == "GET" else {
            return HTTPResponse(
                status: 405, text: "\(head.method) is not allowed; use GET", headers: [("Allow", "GET")])
        }
        switch head.path {
        case "/metrics":
            broker.refreshScrapeMetrics()
            return HTTPResponse(status: 200, contentType: Self.prometheusContentType, body: renderMetrics())
        case "/health/live":
            return HTTPResponse(status: 200, text: "live")
        case "/health/ready":
            // Partition health is reported, not judged: readiness is this process's, and taking
            // it out of rotation brings no offline partition back (docs/operations.md).
            let partitions = broker.partitionHealthNote
            if let problem = broker.readinessProblem {
                return HTTPResponse(status: 503, text: "not ready: \(problem)\(partitions)")
            }
            return HTTPResponse(status: 200, text: "ready\(partitions)")
        default:
            return HTTPResponse(
                status: 200, contentType: "application/json",
                body: broker.clusterSummary(admin: adminListeners()).json())
        }
    }

    func connectionDidClose(_ connection: ServerConnection) {}
}
