import TernNet

/// Delimits HTTP/1.1 requests in a connection's input for TernNet (``FrameDecoder``): a frame is
/// one request's head plus its `Content-Length` body.
///
/// Input that can never become a valid request is handed over as a frame of its own, so that
/// ``AdminRouter`` answers it with 400 (or 431, 413, 501, 505) and closes: binary garbage as
/// soon as a byte no request head may contain arrives, a malformed request line as soon as its
/// line ends, and a head with no end within ``HTTPRequestHead/maxHeadBytes``.
struct HTTPRequestFramer: FrameDecoder {
    /// The most a frame can be: the largest head plus the largest body.
    static let maxFrameBytes = HTTPRequestHead.maxHeadBytes + HTTPRequestHead.maxBodyBytes

    func boundary(in bytes: UnsafeRawBufferPointer) -> FrameBoundary {
        let window = min(bytes.count, HTTPRequestHead.maxHeadBytes)
        guard let headEnd = Self.headEnd(in: bytes, upTo: window) else {
            if bytes.count >= HTTPRequestHead.maxHeadBytes { return .complete(length: HTTPRequestHead.maxHeadBytes) }
            if Self.cannotBeHead(bytes, upTo: window) { return .complete(length: bytes.count) }
            return .incomplete
        }
        let head = UnsafeRawBufferPointer(rebasing: bytes[0..<headEnd])
        guard let parsed = try? HTTPRequestHead.parse(head) else { return .complete(length: headEnd) }
        let total = headEnd + parsed.contentLength
        return bytes.count >= total ? .complete(length: total) : .incomplete
    }

    /// The index just past the first CRLF CRLF within `limit` bytes.
    static func headEnd(in bytes: UnsafeRawBufferPointer, upTo limit: Int) -> Int? {
        guard limit >= 4 else { return nil }
        var i = 3
        while i < limit {
            if bytes[i] == 0x0A && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D {
                return i + 1
            }
            i += 1
        }
        return nil
    }

    /// Whether the bytes so far already rule out a request head: a control byte other than CR,
    /// LF and tab, a method that is not a token, or a first line that is complete but malformed.
    private static func cannotBeHead(_ bytes: UnsafeRawBufferPointer, upTo limit: Int) -> Bool {
        var inMethod = true
        for i in 0..<limit {
            let byte = bytes[i]
            if byte < 0x20 && byte != 0x0D && byte != 0x0A && byte != 0x09 { return true }
            if byte == 0x7F { return true }
            if inMethod {
                if byte == UInt8(ascii: " ") {
                    if i == 0 { return true }
                    inMethod = false
                } else if !HTTPRequestHead.isTokenByte(byte) {
                    return true
                }
            }
            if byte == 0x0A {
                // The request line is complete: check it on its own.
                guard i >= 1, bytes[i - 1] == 0x0D else { return true }
                let line = UnsafeRawBufferPointer(rebasing: bytes[0..<(i - 1)])
                do throws(HTTPRequestError) {
                    _ = try HTTPRequestHead.parseRequestLine(line)
                    return false
                } catch {
                    return true
                }
            }
        }
        return false
    }
}
