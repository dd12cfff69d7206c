import TernNet

@testable import TernBroker

/// Bytes arriving on the admin HTTP listener: where `HTTPRequestFramer` ends the first request,
/// and what `AdminRouter` makes of that frame (`HTTPRequestHead.parse`).
enum AdminHTTPTarget {
    static let target = FuzzTarget(
        name: "admin-http", maxLength: HTTPRequestHead.maxHeadBytes + 1024,
        summary: "admin listener: HTTPRequestFramer + HTTPRequestHead.parse", run: run, seeds: seeds)

    static let framer = HTTPRequestFramer()
    static let refusals: Set<Int> = [400, 413, 431, 501, 505]

    static func run(_ input: UnsafeRawBufferPointer) {
        guard !input.isEmpty else { return }
        guard case .complete(let length) = framer.boundary(in: input) else { return }
        fuzzCheck(length >= 1 && length <= input.count, "frame length \(length) of \(input.count) bytes")
        let frame = UnsafeRawBufferPointer(rebasing: input[0..<length])
        fuzzCheck(framer.boundary(in: frame) == .complete(length: length), "the frame alone frames differently")
        let request = routerParse(frame)
        if case .failure(let error) = request {
            fuzzCheck(refusals.contains(error.status), "refused with status \(error.status)")
        }
        if case .success(let head) = request {
            // A request that parses owns exactly its Content-Length body: nothing of the next
            // request is swallowed, nothing of its body is left to be read as a request.
            fuzzCheck(length == head.end + head.head.contentLength, "frame \(length) ≠ head \(head.end) + body")
            fuzzCheck(head.head.contentLength <= HTTPRequestHead.maxBodyBytes, "body over the limit accepted")
            fuzzCheck(head.head.path.hasPrefix("/"), "path '\(head.head.path)' does not start with /")
            fuzzCheck(!head.head.method.isEmpty, "empty method")
        }
        // Bytes arrive split anywhere: a request is framed only once it is whole (no prefix of it
        // is a frame yet), and a prefix the framer already hands over is one the router refuses
        // (garbage is handed over as soon as it is seen, answered with a 4xx and the connection closed).
        let step = max(1, length / 4)
        for prefix in stride(from: 1, to: length, by: step) {
            let early = framer.boundary(in: UnsafeRawBufferPointer(rebasing: input[0..<prefix]))
            guard case .complete(let earlyLength) = early else { continue }
            if case .success = request {
                fuzzFail("a \(prefix)-byte prefix of a \(length)-byte request is already a frame of \(earlyLength)")
            }
            if case .success = routerParse(UnsafeRawBufferPointer(rebasing: input[0..<earlyLength])) {
                fuzzFail("a \(earlyLength)-byte early frame of refused input parses as a request")
            }
        }
    }

    /// What `AdminRouter` does with a frame: find the head's end and parse the head.
    private static func routerParse(
        _ frame: UnsafeRawBufferPointer
    ) -> Result<(head: HTTPRequestHead, end: Int), HTTPRequestError> {
        let window = min(frame.count, HTTPRequestHead.maxHeadBytes)
        guard let end = HTTPRequestFramer.headEnd(in: frame, upTo: window) else {
            return .failure(
                frame.count >= HTTPRequestHead.maxHeadBytes
                    ? HTTPRequestError(431, "too long") : HTTPRequestError(400, "not HTTP"))
        }
        do throws(HTTPRequestError) {
            return .success((try HTTPRequestHead.parse(UnsafeRawBufferPointer(rebasing: frame[0..<end])), end))
        } catch {
            return .failure(error)
        }
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let requests: [(String, String)] = [
            (
                "get-metrics",
                "GET /metrics HTTP/1.1\r\nHost: localhost:9644\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"
            ),
            ("health-10", "GET /health/ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
            (
                "absolute-form",
                "GET http://localhost:9644/v1/cluster?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            ),
            ("post-body", "POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"),
            ("pipelined", "GET /health/live HTTP/1.1\r\nHost: h\r\n\r\nGET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"),
            ("chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("bad-version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
        ]
        return requests.map { (name: $0.0, bytes: Array($0.1.utf8)) } + [
            ("binary", [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01])
        ]
    }
}
