import TernNet
import TernTestSupport
import XCTest

@testable import TernBroker

final class HTTPRequestHeadTests: XCTestCase {
    private func parse(_ text: String) throws(HTTPRequestError) -> HTTPRequestHead {
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(HTTPRequestError) in try HTTPRequestHead.parse(raw) }
        }
        return try result.get()
    }

    private func status(_ text: String) -> Int? {
        do throws(HTTPRequestError) {
            _ = try parse(text)
            return nil
        } catch {
            return error.status
        }
    }

    func testParsesAGetWithQueryHostAndKeepAlive() throws {
        let head = try parse("GET /metrics?x=1 HTTP/1.1\r\nHost: localhost:9644\r\nAccept: */*\r\n\r\n")
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.path, "/metrics")
        XCTAssertEqual(head.query, "x=1")
        XCTAssertEqual(head.host, "localhost:9644")
        XCTAssertEqual(head.contentLength, 0)
        XCTAssertTrue(head.keepAlive)
    }

    func testAbsoluteFormTargetKeepsThePath() throws {
        XCTAssertEqual(try parse("GET http://h:9644/metrics?a HTTP/1.1\r\nHost: h\r\n\r\n").path, "/metrics")
        XCTAssertEqual(try parse("GET http://h:9644 HTTP/1.1\r\nHost: h\r\n\r\n").path, "/")
        XCTAssertEqual(status("GET http:///metrics HTTP/1.1\r\nHost: h\r\n\r\n"), 400)
        XCTAssertEqual(status("GET ftp://h/metrics HTTP/1.1\r\nHost: h\r\n\r\n"), 400)
    }

    func testConnectionHeaderAndHTTP10Defaults() throws {
        XCTAssertFalse(try parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, close\r\n\r\n").keepAlive)
        XCTAssertFalse(try parse("GET / HTTP/1.0\r\n\r\n").keepAlive)
        XCTAssertTrue(try parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive)
        XCTAssertEqual(try parse("POST / HTTP/1.1\r\nHost: a\r\ncontent-length:  12 \r\n\r\n").contentLength, 12)
    }

    func testRefusesHostileHeads() {
        let cases: [(String, Int)] = [
            ("\r\n\r\n", 400),
            ("GET\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400),
            ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET metrics HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET /a\u{7F}b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/3\r\nHost: a\r\n\r\n", 505),
            ("GET / FTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\n: empty-name\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\u{01}b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413),
            ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            ("GET / HTTP/1.1\r\nHost: a\r\n", 400),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(status(text), expected, text.debugDescription)
        }
        let many = "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<70).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        XCTAssertEqual(status(many), 431)
        let long = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 8200) + "\r\n\r\n"
        XCTAssertEqual(status(long), 431)
    }

    func testRandomBytesNeverTrap() {
        var generator = SeededGenerator(seed: 6)
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<200, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if Bool.random(using: &generator) { bytes = Array("GET / HTTP/1.1\r\n".utf8) + bytes }
            bytes += [13, 10, 13, 10]
            _ = bytes.withUnsafeBytes { try? HTTPRequestHead.parse($0) }
            _ = bytes.withUnsafeBytes { HTTPRequestFramer().boundary(in: $0) }
        }
    }
}

final class HTTPRequestFramerTests: XCTestCase {
    private func boundary(_ text: String) -> FrameBoundary {
        Array(text.utf8).withUnsafeBytes { HTTPRequestFramer().boundary(in: $0) }
    }

    func testDelimitsHeadAndBodyAndWaitsForMore() {
        let get = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
        XCTAssertEqual(boundary(get), .complete(length: get.utf8.count))
        XCTAssertEqual(boundary(get + "GET /x"), .complete(length: get.utf8.count))
        XCTAssertEqual(boundary("GET /metrics HTTP/1.1\r\nHo"), .incomplete)
        XCTAssertEqual(boundary("GET /met"), .incomplete)
        let post = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n"
        XCTAssertEqual(boundary(post + "ab"), .incomplete)
        XCTAssertEqual(boundary(post + "abcd"), .complete(length: post.utf8.count + 4))
    }

    func testByteByByteFeedingFindsTheSameBoundaries() {
        let requests = [
            "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz",
            "GET /c HTTP/1.0\r\n\r\n",
        ]
        let stream = Array(requests.joined().utf8)
        var frames: [Int] = []
        var start = 0
        for end in 1...stream.count {
            if case .complete(let length) = stream[start..<end].withUnsafeBytes({ HTTPRequestFramer().boundary(in: $0) }
            ) {
                frames.append(length)
                start += length
            }
        }
        XCTAssertEqual(frames, requests.map(\.utf8.count))
        XCTAssertEqual(start, stream.count)
    }

    func testHandsOverInputThatCannotBecomeARequest() {
        XCTAssertEqual(boundary("\u{0}\u{1}abc"), .complete(length: 5))
        XCTAssertEqual(boundary(" GET"), .complete(length: 4))
        XCTAssertEqual(boundary("G@T / HTTP/1.1"), .complete(length: 14))
        XCTAssertEqual(boundary("GET / SPDY\r\nHost"), .complete(length: 16))
        let huge = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000)
        XCTAssertEqual(boundary(huge), .complete(length: HTTPRequestHead.maxHeadBytes))
    }
}
