import Foundation

/// An HTTP/1.1 response as a test reads it off a raw connection.
public struct HTTPTestResponse: Sendable {
    public var status: Int
    /// Header fields, names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension RawConnection {
    /// Reads one HTTP/1.1 response (head, then a `Content-Length` body); nil when the peer
    /// closed first, timed out, or sent something that is not a response.
    public func readHTTPResponse() -> HTTPTestResponse? {
        var head: [UInt8] = []
        while !(head.count >= 4 && Array(head.suffix(4)) == [13, 10, 13, 10]) {
            guard head.count < 65536, let byte = read(count: 1) else { return nil }
            head += byte
        }
        let lines = String(decoding: head.dropLast(4), as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0] == "HTTP/1.1", let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard let body = length == 0 ? [] : read(count: length) else { return nil }
        return HTTPTestResponse(status: status, headers: headers, body: body)
    }

    /// Sends `GET path` (keep-alive) and reads the response.
    public func get(_ path: String) throws -> HTTPTestResponse {
        try write(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        guard let response = readHTTPResponse() else { throw BrokerProcessError("no HTTP response to GET \(path)") }
        return response
    }
}

/// One `GET` on a fresh connection to 127.0.0.1:`port`.
public func httpGet(port: Int, _ path: String) throws -> HTTPTestResponse {
    try RawConnection(port: port).get(path)
}
