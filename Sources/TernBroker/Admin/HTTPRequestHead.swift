/// The request line and headers of an HTTP/1.1 (or 1.0) request, parsed strictly from bytes the
/// network sent: every length is bounded, every byte checked, nothing trapped on.
///
/// Only what the admin listener needs is kept: method, path, query, version, `Host`,
/// `Content-Length` and whether the connection stays open. Anything it cannot accept throws an
/// ``HTTPRequestError`` carrying the status to answer with.
struct HTTPRequestHead: Sendable, Equatable {
    /// Largest request line plus headers, including the blank line that ends them.
    static let maxHeadBytes = 8192
    /// Most header fields accepted.
    static let maxHeaderCount = 64
    /// Largest body accepted (the admin endpoints take none; a body is read and ignored).
    static let maxBodyBytes = 65536

    var method: String
    /// The path part of the request target (`/metrics`).
    var path: String
    /// The query after `?`, without it; empty when none.
    var query: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var host: String?
    var contentLength: Int
    /// Whether the connection stays open after the response (HTTP/1.1 unless `Connection:
    /// close`; HTTP/1.0 only with `Connection: keep-alive`).
    var keepAlive: Bool

    /// Parses a head that ends with CRLF CRLF (`bytes` holds exactly the head).
    /// - Throws: ``HTTPRequestError`` with 400, 413, 431, 501 or 505.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTPRequestError) -> HTTPRequestHead {
        guard bytes.count <= maxHeadBytes else {
            throw HTTPRequestError(431, "request line and headers exceed \(maxHeadBytes) bytes")
        }
        guard bytes.count >= 4, bytes[bytes.count - 4] == cr, bytes[bytes.count - 3] == lf,
            bytes[bytes.count - 2] == cr, bytes[bytes.count - 1] == lf
        else {
            throw HTTPRequestError(400, "request head does not end with an empty line")
        }
        var lines = LineCursor(bytes: bytes, end: bytes.count - 2)
        guard let requestLine = try lines.next() else { throw HTTPRequestError(400, "empty request") }
        var head = try parseRequestLine(requestLine)

        var count = 0
        var contentLength: Int?
        var connectionTokens: [String] = []
        var sawTransferEncoding = false
        while let line = try lines.next() {
            count += 1
            guard count <= maxHeaderCount else {
                throw HTTPRequestError(431, "more than \(maxHeaderCount) header fields")
            }
            let (name, value) = try parseField(line)
            switch name {
            case "content-length":
                guard let length = parseContentLength(value) else {
                    throw HTTPRequestError(400, "Content-Length is not a number")
                }
                guard contentLength == nil || contentLength == length else {
                    throw HTTPRequestError(400, "conflicting Content-Length fields")
                }
                guard length <= maxBodyBytes else {
                    throw HTTPRequestError(413, "request body of \(length) bytes exceeds \(maxBodyBytes)")
                }
                contentLength = length
            case "transfer-encoding":
                sawTransferEncoding = true
            case "host":
                guard head.host == nil else { throw HTTPRequestError(400, "more than one Host field") }
                head.host = value
            case "connection":
                connectionTokens += value.split(separator: ",").map {
                    String($0.filter { $0 != " " && $0 != "\t" }).lowercased()
                }
            default:
                break
            }
        }
        if sawTransferEncoding {
            // A chunked body cannot be framed here; answering it and closing is the safe reply.
            throw HTTPRequestError(501, "Transfer-Encoding is not supported")
        }
        if head.minorVersion == 1 && head.host == nil {
            throw HTTPRequestError(400, "an HTTP/1.1 request needs a Host field")
        }
        head.contentLength = contentLength ?? 0
        if connectionTokens.contains("close") {
            head.keepAlive = false
        } else if head.minorVersion == 0 {
            head.keepAlive = connectionTokens.contains("keep-alive")
        }
        return head
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// `METHOD SP request-target SP HTTP/1.x` (without its CRLF).
    static func parseRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTPRequestError) -> HTTPRequestHead {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPRequestError(400, "malformed request line") }
        let method = parts[0]
        guard !method.isEmpty, method.count <= 16, method.allSatisfy(isTokenByte) else {
            throw HTTPRequestError(400, "malformed method")
        }
        guard parts[1].count <= 2048, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPRequestError(400, "request target must be at most 2048 bytes of visible ASCII")
        }
        var target = Array(parts[1])
        // absolute-form (`http://host:port/path`), which servers must accept: keep the path.
        for scheme in ["http://", "https://"] where target.starts(with: Array(scheme.utf8)) {
            let authority = target.dropFirst(scheme.utf8.count)
            guard !authority.isEmpty, authority.first != UInt8(ascii: "/") else {
                throw HTTPRequestError(400, "absolute-form request target without a host")
            }
            target = authority.firstIndex(of: UInt8(ascii: "/")).map { Array(target[$0...]) } ?? [UInt8(ascii: "/")]
        }
        guard target.first == UInt8(ascii: "/") else {
            throw HTTPRequestError(400, "request target must be an absolute path or an http:// URL")
        }
        let version = Array(parts[2])
        let minor: Int
        switch version {
        case Array("HTTP/1.1".utf8): minor = 1
        case Array("HTTP/1.0".utf8): minor = 0
        default:
            guard version.starts(with: Array("HTTP/".utf8)) else {
                throw HTTPRequestError(400, "malformed HTTP version")
            }
            throw HTTPRequestError(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        }
        let targetText = String(decoding: target, as: UTF8.self)
        let path: Substring
        let query: Substring
        if let mark = targetText.firstIndex(of: "?") {
            path = targetText[..<mark]
            query = targetText[targetText.index(after: mark)...]
        } else {
            path = targetText[...]
            query = ""
        }
        return HTTPRequestHead(
            method: String(decoding: method, as: UTF8.self), path: String(path), query: String(query),
            minorVersion: minor, host: nil, contentLength: 0, keepAlive: minor == 1)
    }

    /// `name: OWS value OWS`; returns the name lower-cased and the trimmed value.
    private static func parseField(_ line: UnsafeRawBufferPointer) throws(HTTPRequestError) -> (String, String) {
        guard let first = line.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else {
            throw HTTPRequestError(400, "folded header lines are not accepted")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            throw HTTPRequestError(400, "header field without a name and colon")
        }
        let name = line[..<colon]
        guard name.allSatisfy(isTokenByte) else { throw HTTPRequestError(400, "malformed header name") }
        var value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw HTTPRequestError(400, "control character in a header value")
        }
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value = value.dropFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value = value.dropLast() }
        return (String(decoding: name, as: UTF8.self).lowercased(), String(decoding: value, as: UTF8.self))
    }

    /// Digits only (no sign, no spaces), at most 9 of them so the number cannot overflow.
    private static func parseContentLength(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 9, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(text)
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

/// Walks CRLF-terminated lines of a request head; a bare CR or LF is an error.
private struct LineCursor {
    let bytes: UnsafeRawBufferPointer
    /// Index just past the last line's CRLF (the final empty line excluded).
    let end: Int
    var position = 0

    init(bytes: UnsafeRawBufferPointer, end: Int) {
        self.bytes = bytes
        self.end = end
    }

    mutating func next() throws(HTTPRequestError) -> UnsafeRawBufferPointer? {
        guard position < end else { return nil }
        var i = position
        while i < end {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\r") {
                guard i + 1 < end, bytes[i + 1] == UInt8(ascii: "\n") else {
                    throw HTTPRequestError(400, "bare CR in the request head")
                }
                let line = UnsafeRawBufferPointer(rebasing: bytes[position..<i])
                position = i + 2
                return line
            }
            if byte == UInt8(ascii: "\n") { throw HTTPRequestError(400, "bare LF in the request head") }
            if byte == 0 { throw HTTPRequestError(400, "NUL byte in the request head") }
            i += 1
        }
        throw HTTPRequestError(400, "unterminated line in the request head")
    }
}

/// A request the admin listener will not serve, with the status that says why.
struct HTTPRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    var status: Int
    var reason: String

    init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    var description: String { "\(status): \(reason)" }
}
