import Foundation
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The admin HTTP listener of a real `ternd`: health, cluster summary, Prometheus metrics that
/// move with traffic and stay correct under load, and hostile HTTP input.
final class AdminHTTPTests: BrokerTestCase {
    private var adminPort: Int { broker.adminPort ?? 0 }

    private func scrape() throws -> PrometheusText {
        let response = try httpGet(port: adminPort, "/metrics")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusText(response.text)
    }

    private func tern(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin)
    }

    func testHealthEndpointsAndClusterSummary() throws {
        let live = try httpGet(port: adminPort, "/health/live")
        XCTAssertEqual(live.status, 200)
        let ready = try httpGet(port: adminPort, "/health/ready")
        XCTAssertEqual(ready.status, 200, ready.text)

        XCTAssertEqual(try tern(["topic", "create", "summary", "--partitions", "3"]).status, 0)
        let cluster = try httpGet(port: adminPort, "/v1/cluster")
        XCTAssertEqual(cluster.status, 200)
        XCTAssertEqual(cluster.headers["content-type"], "application/json")
        struct Summary: Decodable {
            struct Node: Decodable {
                var nodeId: Int32
                var host: String
                var port: Int32
            }
            var nodeId: Int32
            var controllerId: Int32
            var version: String
            var uptimeSeconds: Int64
            var ready: Bool
            var listeners: [String]
            var adminListeners: [String]
            var brokers: [Node]
            var topicCount: Int
            var partitionCount: Int
        }
        let summary = try JSONDecoder().decode(Summary.self, from: Data(cluster.body))
        XCTAssertEqual(summary.nodeId, 0)
        XCTAssertEqual(summary.controllerId, 0)
        XCTAssertFalse(summary.version.isEmpty)
        XCTAssertTrue(summary.ready)
        XCTAssertGreaterThanOrEqual(summary.uptimeSeconds, 0)
        XCTAssertEqual(summary.listeners, ["PLAINTEXT://127.0.0.1:\(broker.port)"])
        XCTAssertEqual(summary.adminListeners, ["127.0.0.1:\(adminPort)"])
        XCTAssertEqual(summary.brokers.map(\.port), [Int32(broker.port)])
        XCTAssertEqual(summary.topicCount, 1)
        XCTAssertEqual(summary.partitionCount, 3)
    }

    func testUnknownPathIs404OtherMethodsAre405AndKeepAliveServesSeveralRequests() throws {
        let connection = try RawConnection(port: adminPort)
        XCTAssertEqual(try connection.get("/nope").status, 404)
        XCTAssertEqual(try connection.get("/metrics/extra").status, 404)
        try connection.write(Array("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".utf8))
        let post = try XCTUnwrap(connection.readHTTPResponse())
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.headers["allow"], "GET")
        // Same connection, after a request with a body: still framed correctly.
        XCTAssertEqual(try connection.get("/health/live").status, 200)

        try connection.write(Array("GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        let last = try XCTUnwrap(connection.readHTTPResponse())
        XCTAssertEqual(last.status, 200)
        XCTAssertEqual(last.headers["connection"], "close")
        XCTAssertTrue(connection.isClosedByPeer(), "Connection: close must close the connection")
    }

    func testMetricsParseAsPrometheusTextAndCountersMoveWithTraffic() throws {
        XCTAssertEqual(try tern(["topic", "create", "metered", "--partitions", "2"]).status, 0)
        let before = try scrape()
        for name in [
            "tern_requests_total", "tern_request_duration_seconds", "tern_log_end_offset", "tern_connections_open",
            "process_resident_memory_bytes", "process_open_fds",
        ] {
            XCTAssertNotNil(before.types[name], "\(name) missing from /metrics")
        }
        XCTAssertEqual(before.types["tern_request_duration_seconds"], "histogram")
        XCTAssertGreaterThan(before.value("process_resident_memory_bytes") ?? 0, 0)
        XCTAssertGreaterThan(before.value("process_open_fds") ?? 0, 0)
        XCTAssertEqual(before.sum("tern_log_end_offset", matching: ["topic": "metered"]), 0)

        let records = 2500
        let lines = (1...records).map { "record-\($0)" }.joined(separator: "\n")
        let produced = try tern(["produce", "metered", "--acks", "all"], stdin: lines)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let afterProduce = try scrape()
        XCTAssertEqual(
            afterProduce.sum("tern_topic_records_in_total", matching: ["topic": "metered"])
                - before.sum("tern_topic_records_in_total", matching: ["topic": "metered"]),
            Double(records))
        XCTAssertGreaterThan(
            afterProduce.sum("tern_topic_bytes_in_total", matching: ["topic": "metered"]), Double(records))
        XCTAssertGreaterThan(
            afterProduce.value("tern_requests_total", ["api": "Produce"]) ?? 0,
            before.value("tern_requests_total", ["api": "Produce"]) ?? 0)
        XCTAssertGreaterThan(
            afterProduce.value("tern_request_duration_seconds_count", ["api": "Produce"]) ?? 0,
            before.value("tern_request_duration_seconds_count", ["api": "Produce"]) ?? 0)
        XCTAssertEqual(afterProduce.sum("tern_log_end_offset", matching: ["topic": "metered"]), Double(records))
        XCTAssertGreaterThan(afterProduce.sum("tern_log_size_bytes", matching: ["topic": "metered"]), 0)
        // acks=all in sync mode: every acknowledged append was fsynced.
        XCTAssertGreaterThan(
            afterProduce.value("tern_log_fsyncs_total") ?? 0, before.value("tern_log_fsyncs_total") ?? 0)
        XCTAssertGreaterThan(afterProduce.value("tern_log_flush_duration_seconds_count") ?? 0, 0)

        let consumed = try tern([
            "consume", "metered", "--from-beginning", "--max-messages", "\(records)", "--timeout-ms", "10000",
        ])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        let afterConsume = try scrape()
        // At least every record went out (a consumer that fetches ahead may be sent some twice).
        XCTAssertGreaterThanOrEqual(
            afterConsume.sum("tern_topic_records_out_total", matching: ["topic": "metered"]), Double(records))
        XCTAssertGreaterThan(afterConsume.value("tern_requests_total", ["api": "Fetch"]) ?? 0, 0)

        // Consumer-group lag (of partitions the group has committed): a group that committed
        // 1,000 of a one-partition topic's records lags by the rest, and the lag grows as
        // producers append while nobody commits.
        XCTAssertEqual(try tern(["topic", "create", "lagged", "--partitions", "1"]).status, 0)
        XCTAssertEqual(try tern(["produce", "lagged", "--acks", "all"], stdin: lines).status, 0)
        let grouped = try tern([
            "consume", "lagged", "--group", "lagging", "--from-beginning", "--max-messages", "1000",
            "--timeout-ms", "10000",
        ])
        XCTAssertEqual(grouped.status, 0, grouped.stderr)
        let afterGroup = try scrape()
        XCTAssertEqual(afterGroup.types["tern_consumer_group_lag"], "gauge")
        XCTAssertEqual(
            afterGroup.value("tern_consumer_group_lag", ["group": "lagging", "topic": "lagged", "partition": "0"]),
            Double(records - 1000))
        let more = try tern(["produce", "lagged", "--acks", "1"], stdin: (1...100).map { "more-\($0)" }.joined(separator: "\n"))
        XCTAssertEqual(more.status, 0, more.stderr)
        XCTAssertEqual(
            try scrape().value("tern_consumer_group_lag", ["group": "lagging", "topic": "lagged", "partition": "0"]),
            Double(records - 1000 + 100))

        // An error answer is counted with its API and code.
        let raw = try RawConnection(port: broker.port)
        let (status, response) = try raw.roundTrip(
            ProduceRequest(
                acks: 1, timeoutMs: 5000,
                topics: [.init(name: "no-such-topic", partitions: [.init(partition: 0, records: makeBatch(count: 1))])])
        )
        XCTAssertEqual(status.errorCode, .none)
        XCTAssertEqual(response?.topics.first?.partitions.first?.errorCode, .unknownTopicOrPartition)
        let afterError = try scrape()
        XCTAssertGreaterThan(
            afterError.value("tern_request_errors_total", ["api": "Produce", "error": "UNKNOWN_TOPIC_OR_PARTITION"])
                ?? 0, 0,
            "no error counted for a produce to a missing topic")
    }

    func testMetricsAndReadinessStayCorrectWhileAProduceLoadRuns() throws {
        XCTAssertEqual(try tern(["topic", "create", "loaded", "--partitions", "4"]).status, 0)
        let records = 300_000
        let load = Process()
        load.executableURL = URL(fileURLWithPath: Binaries.path("tern"))
        load.arguments = [
            "--bootstrap", broker.bootstrap, "perf", "produce", "--topic", "loaded", "--records", "\(records)",
            "--record-size", "100", "--acks", "all", "--producers", "4",
        ]
        load.standardOutput = FileHandle.nullDevice
        load.standardError = FileHandle.nullDevice
        try load.run()
        defer {
            if load.isRunning { kill(load.processIdentifier, SIGKILL) }
            load.waitUntilExit()
        }

        var scrapes = 0
        var lastRecordsIn = 0.0
        var lastEndOffset = 0.0
        let deadline = Date().addingTimeInterval(120)
        while load.isRunning && Date() < deadline {
            let metrics = try scrape()
            let recordsIn = metrics.sum("tern_topic_records_in_total", matching: ["topic": "loaded"])
            XCTAssertGreaterThanOrEqual(recordsIn, lastRecordsIn, "a counter went backwards")
            XCTAssertLessThanOrEqual(recordsIn, Double(records))
            let endOffset = metrics.sum("tern_log_end_offset", matching: ["topic": "loaded"])
            XCTAssertGreaterThanOrEqual(endOffset, lastEndOffset, "a log end offset went backwards")
            XCTAssertLessThanOrEqual(endOffset, Double(records))
            lastRecordsIn = recordsIn
            lastEndOffset = endOffset
            XCTAssertEqual(try httpGet(port: adminPort, "/health/ready").status, 200)
            scrapes += 1
            usleep(20_000)
        }
        load.waitUntilExit()
        XCTAssertEqual(load.terminationStatus, 0, "the produce load failed")
        XCTAssertGreaterThan(scrapes, 1, "the load ended before it could be observed")
        let final = try scrape()
        XCTAssertEqual(final.sum("tern_topic_records_in_total", matching: ["topic": "loaded"]), Double(records))
        XCTAssertEqual(final.sum("tern_log_end_offset", matching: ["topic": "loaded"]), Double(records))
    }

    func testMalformedRequestsAreAnsweredOrClosedAndTheListenerKeepsServing() throws {
        let cases: [(name: String, bytes: [UInt8], status: Int)] = [
            ("binary garbage", [0x00, 0x00, 0x00, 0x10, 0x00, 0x12, 0xFF, 0xFE], 400),
            ("not a request line", Array("HELLO\r\n\r\n".utf8), 400),
            ("no Host in HTTP/1.1", Array("GET /metrics HTTP/1.1\r\n\r\n".utf8), 400),
            ("bad Content-Length", Array("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".utf8), 400),
            ("huge Content-Length", Array("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n".utf8), 413),
            ("chunked body", Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8), 501),
            ("HTTP/2.0", Array("GET / HTTP/2.0\r\nHost: x\r\n\r\n".utf8), 505),
            ("header fold", Array("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n".utf8), 400),
            ("bare LF", Array("GET / HTTP/1.1\nHost: x\n\n".utf8), 400),
            (
                "oversized headers",
                Array("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 9000))\r\n\r\n".utf8),
                431
            ),
        ]
        for testCase in cases {
            let connection = try RawConnection(port: adminPort)
            try connection.write(testCase.bytes)
            let response = connection.readHTTPResponse()
            XCTAssertEqual(response?.status, testCase.status, testCase.name)
            XCTAssertTrue(connection.isClosedByPeer(), "\(testCase.name): connection left open")
            XCTAssertEqual(try httpGet(port: adminPort, "/health/live").status, 200, "after \(testCase.name)")
        }
        // A client that sends half a request and goes away does not disturb anyone.
        do {
            let connection = try RawConnection(port: adminPort)
            try connection.write(Array("GET /metr".utf8))
        }
        XCTAssertEqual(try scrape().types["tern_requests_total"], "counter")
    }
}
