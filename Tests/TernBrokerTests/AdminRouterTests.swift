import Logging
import TernTestSupport
import XCTest

@testable import TernBroker

/// Readiness follows the broker's life: 503 before its listeners accept and once a stop has
/// begun, 200 only in between; liveness is 200 throughout.
final class AdminRouterTests: XCTestCase {
    private func head(_ method: String, _ path: String) -> HTTPRequestHead {
        HTTPRequestHead(
            method: method, path: path, query: "", minorVersion: 1, host: "x", contentLength: 0, keepAlive: true)
    }

    func testReadinessFollowsTheBrokersLife() throws {
        let directory = TemporaryDirectory("tern-admin")
        defer { directory.remove() }
        let config = try BrokerConfig.load(
            file: nil, overrides: ["log.dirs=\(directory.path)/data", "listeners=PLAINTEXT://127.0.0.1:0"])
        let broker = try Broker(config: config, logger: Logger(label: "test"))
        let router = AdminRouter(
            broker: broker, adminListeners: { [] }, renderMetrics: { Array("# none\n".utf8) },
            logger: Logger(label: "test"))

        XCTAssertEqual(router.respond(to: head("GET", "/health/ready")).status, 503, "ready before listeners accept")
        XCTAssertEqual(router.respond(to: head("GET", "/health/live")).status, 200)
        try broker.start()
        XCTAssertEqual(router.respond(to: head("GET", "/health/ready")).status, 200)
        XCTAssertEqual(router.respond(to: head("GET", "/metrics")).status, 200)
        XCTAssertEqual(router.respond(to: head("HEAD", "/metrics")).status, 405)
        XCTAssertEqual(router.respond(to: head("GET", "/")).status, 404)
        broker.beginShutdown()
        XCTAssertEqual(router.respond(to: head("GET", "/health/ready")).status, 503, "ready while stopping")
        XCTAssertEqual(router.respond(to: head("GET", "/health/live")).status, 200)
        try broker.shutdown()
        XCTAssertEqual(router.respond(to: head("GET", "/health/ready")).status, 503)
    }
}
