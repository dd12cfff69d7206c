import Foundation
import Synchronization
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The broker's process-wide bounds against a real `ternd`: `max.connections`,
/// `max.connections.per.ip` and `queued.max.request.bytes`.
final class RequestLimitsTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-limits") }
    override func tearDown() { directory?.remove() }

    private func metric(_ broker: BrokerProcess, _ name: String, _ labels: [String: String] = [:]) throws -> Double? {
        let text = try httpGet(port: try XCTUnwrap(broker.adminPort), "/metrics").text
        return try PrometheusText(text).samples.first { $0.name == name && $0.labels == labels }?.value
    }

    private func assertServes(_ broker: BrokerProcess, file: StaticString = #filePath, line: UInt = #line) throws {
        let connection = try RawConnection(port: broker.port, timeout: 10)
        XCTAssertEqual(try connection.roundTrip(ApiVersionsRequest()).status.errorCode, .none, file: file, line: line)
    }

    /// Waits (bounded) until the broker counts no client connection: the readiness probe of
    /// `BrokerProcess` connects and closes, and the broker notices that close asynchronously, so
    /// a cap test that starts at once could see the probe still counted against its limit.
    private func waitForNoClientConnections(_ broker: BrokerProcess) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let text = try httpGet(port: try XCTUnwrap(broker.adminPort), "/metrics").text
            let open = try PrometheusText(text).samples.filter { $0.name == "tern_connections_open" }
            if !open.isEmpty && open.allSatisfy({ $0.value == 0 }) { return }
            usleep(20_000)
        }
        XCTFail("the broker still counts client connections after 10 s")
    }

    /// Opens connections that each get an answer (so the broker has admitted them), once the
    /// broker counts none.
    private func openAdmitted(_ broker: BrokerProcess, count: Int) throws -> [RawConnection] {
        try waitForNoClientConnections(broker)
        return try (0..<count).map { _ in
            let connection = try RawConnection(port: broker.port, timeout: 10)
            XCTAssertEqual(try connection.roundTrip(ApiVersionsRequest()).status.errorCode, .none)
            return connection
        }
    }

    func testConnectionsOverMaxConnectionsAreClosedAtAccept() throws {
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data", settings: ["max.connections": "3"])
        defer { broker.stop() }
        var open = try openAdmitted(broker, count: 3)
        let refused = try RawConnection(port: broker.port, timeout: 10)
        XCTAssertTrue(refused.isClosedByPeer(), "a fourth connection was kept open")
        // The admin listener does not count: health checks reach a full broker.
        XCTAssertEqual(try httpGet(port: try XCTUnwrap(broker.adminPort), "/health/ready").status, 200)
        XCTAssertEqual(try metric(broker, "tern_connections_refused_total", ["limit": "max.connections"]), 1)
        XCTAssertTrue(broker.log.contains("refusing connection: over max.connections"), broker.log)
        // A closed connection frees its place.
        open.removeLast()
        let deadline = Date().addingTimeInterval(10)
        var admitted = false
        while !admitted && Date() < deadline {
            if let connection = try? RawConnection(port: broker.port, timeout: 2),
                (try? connection.roundTrip(ApiVersionsRequest()).status.errorCode) == ErrorCode.none
            {
                admitted = true
            } else {
                usleep(50_000)
            }
        }
        XCTAssertTrue(admitted, "no connection admitted after one of three closed")
        XCTAssertEqual(open.count, 2)
    }

    func testConnectionsOverMaxConnectionsPerIPAreClosedAtAccept() throws {
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", settings: ["max.connections.per.ip": "2"])
        defer { broker.stop() }
        let open = try openAdmitted(broker, count: 2)
        for _ in 0..<3 {
            XCTAssertTrue(try RawConnection(port: broker.port, timeout: 10).isClosedByPeer())
        }
        XCTAssertEqual(try metric(broker, "tern_connections_refused_total", ["limit": "max.connections.per.ip"]), 3)
        XCTAssertEqual(try open[0].roundTrip(ApiVersionsRequest(), correlationId: 2).status.errorCode, .none)
    }

    /// The broker's resident memory in bytes.
    private func residentBytes(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return -1 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1) * 1024
    }

    func testPartialFramesStayWithinQueuedMaxRequestBytes() throws {
        let limit = 8 << 20
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data",
            settings: ["queued.max.request.bytes": "\(limit)", "socket.request.max.bytes": "\(16 << 20)"])
        defer { broker.stop() }
        do {
            let setup = try RawConnection(port: broker.port)
            _ = try setup.roundTrip(CreateTopicsRequest(topics: [.init(name: "t", numPartitions: 1)]))
        }
        let baseline = residentBytes(broker.pid)
        XCTAssertGreaterThan(baseline, 0)

        // 40 connections each send all but the last byte of a 5 MiB frame and then stall: 200 MiB
        // a broker without a bound buffers in full.
        let frameBytes = 5 << 20
        var header = [UInt8](repeating: 0, count: 4)
        header.withUnsafeMutableBytes { BigEndian.store(UInt32(frameBytes), at: 0, in: $0) }
        let partial = header + [UInt8](repeating: 0, count: frameBytes - 1)
        let stalled = try (0..<40).map { _ in try StallingSender(port: broker.port, bytes: partial) }
        var peak = 0
        let measureUntil = Date().addingTimeInterval(3)
        while Date() < measureUntil {
            for sender in stalled { sender.sendMore() }
            peak = max(peak, residentBytes(broker.pid) - baseline)
            usleep(50_000)
        }
        XCTAssertLessThan(peak, 48 << 20, "resident memory grew by \(peak >> 20) MiB over the baseline")
        print("40 stalled 5 MiB partial frames, queued.max.request.bytes=8 MiB: RSS +\(peak >> 20) MiB")
        let queued = try XCTUnwrap(metric(broker, "tern_request_queued_bytes"))
        XCTAssertGreaterThan(queued, 0)
        XCTAssertLessThanOrEqual(queued, Double(limit + 2 * (frameBytes + 4)))
        // Small requests are served meanwhile.
        try assertServes(broker)

        // A large request waits for memory, and is served once the partial frames are dropped.
        let answered = DispatchSemaphore(value: 0)
        let outcome = Mutex<String>("no answer")
        let port = broker.port
        Thread.detachNewThread {
            defer { answered.signal() }
            do {
                let producer = try RawConnection(port: port, timeout: 30)
                let batch = makeBatch(count: 1, valueSize: 900_000)
                let (_, response) = try producer.roundTrip(
                    ProduceRequest(
                        acks: 1, timeoutMs: 5000,
                        topics: [.init(name: "t", partitions: [.init(partition: 0, records: batch)])]))
                outcome.withLock {
                    $0 = "\(response?.topics.first?.partitions.first?.errorCode ?? .unknownServerError)"
                }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        usleep(300_000)
        for sender in stalled { sender.close() }
        let closedAt = ContinuousClock.now
        XCTAssertEqual(answered.wait(timeout: .now() + 30), .success, "the large produce was never answered")
        XCTAssertEqual(outcome.withLock { $0 }, "\(ErrorCode.none)")
        // Every byte reserved is given back once the connections are gone. How long that takes
        // depends on the machine, not on a timeout: a closed sender's FIN waits in its kernel
        // behind the bytes the broker has not read (the broker stopped reading while the pool was
        // full), so each connection only learns that its peer left once it has read the rest of
        // its partial frame, through the pool, a few at a time: about 150 MiB of reads, 0.5-2.5 s
        // at a load of 12, longer under more. So wait while the broker makes progress
        // (connections closing, bytes moving) and fail only when it stalls; a reservation leaked
        // by a closed connection shows as bytes still counted with no connection left.
        let state = { () throws -> (connections: Double, queued: Double) in
            let samples = try PrometheusText(try httpGet(port: try XCTUnwrap(broker.adminPort), "/metrics").text)
                .samples
            let open = samples.filter { $0.name == "tern_connections_open" }.reduce(0) { $0 + $1.value }
            return (open, samples.first { $0.name == "tern_request_queued_bytes" }?.value ?? -1)
        }
        var last = try state()
        var lastChange = Date()
        let giveUp = Date().addingTimeInterval(180)
        while (last.connections > 0 || last.queued != 0) && Date().timeIntervalSince(lastChange) < 20 && Date() < giveUp
        {
            usleep(50_000)
            let now = try state()
            if now != last { lastChange = Date() }
            last = now
        }
        XCTAssertEqual(
            last.connections, 0, "connections still open, no progress for 20 s (queued bytes \(last.queued))")
        XCTAssertEqual(last.queued, 0, "request memory still reserved with \(last.connections) connections open")
        print("partial frames' memory all given back \(ContinuousClock.now - closedAt) after the senders closed")
        try assertServes(broker)
    }

    /// Runs a produce of one 900 KB batch (a frame well over the resident 64 KiB buffer) on
    /// another thread; the returned wait gives its outcome, or nil on timeout.
    private func produceLargeBatch(port: Int, topic: String) -> (Double) -> String? {
        let answered = DispatchSemaphore(value: 0)
        let outcome = Mutex<String>("no answer")
        Thread.detachNewThread {
            defer { answered.signal() }
            do {
                let producer = try RawConnection(port: port, timeout: 60)
                let batch = makeBatch(count: 1, valueSize: 900_000)
                let (_, response) = try producer.roundTrip(
                    ProduceRequest(
                        acks: 1, timeoutMs: 5000,
                        topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])]))
                outcome.withLock {
                    $0 = "\(response?.topics.first?.partitions.first?.errorCode ?? .unknownServerError)"
                }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        return { seconds in
            answered.wait(timeout: .now() + seconds) == .success ? outcome.withLock { $0 } : nil
        }
    }

    /// Clients that announce frames as large as the broker allows and then trickle them must not
    /// hold the request memory everyone shares: a size prefix does not reserve its frame.
    func testTricklingClientsDoNotStarveALargeProduce() throws {
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data",
            settings: ["queued.max.request.bytes": "\(8 << 20)", "socket.request.max.bytes": "\(16 << 20)"])
        defer { broker.stop() }
        do {
            let setup = try RawConnection(port: broker.port)
            _ = try setup.roundTrip(CreateTopicsRequest(topics: [.init(name: "t", numPartitions: 1)]))
        }
        // Four clients announce 16 MiB frames (64 MiB against an 8 MiB pool) and send 1 KB each.
        var header = [UInt8](repeating: 0, count: 4)
        header.withUnsafeMutableBytes { BigEndian.store(UInt32(16 << 20), at: 0, in: $0) }
        let tricklers = try (0..<4).map { _ in
            try StallingSender(port: broker.port, bytes: header + [UInt8](repeating: 0, count: 1000))
        }
        defer { tricklers.forEach { $0.close() } }
        usleep(300_000)
        let queued = try XCTUnwrap(metric(broker, "tern_request_queued_bytes"))
        XCTAssertLessThanOrEqual(queued, Double(4 * 64 * 1024), "size prefixes reserved their whole frames")

        // A large produce is answered while they stay connected, well before the default
        // connections.max.partial.request.ms (30 s) would close them.
        let wait = produceLargeBatch(port: broker.port, topic: "t")
        XCTAssertEqual(wait(20), "\(ErrorCode.none)", "the large produce waited behind the tricklers")
        for trickler in tricklers { XCTAssertFalse(trickler.isClosedByPeer(), "a trickler was closed early") }
    }

    /// A client that keeps a frame incomplete (one byte at a time, so it is never idle) is closed
    /// after connections.max.partial.request.ms, with a warning naming it.
    func testTricklerIsClosedAfterThePartialRequestTimeout() throws {
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", settings: ["connections.max.partial.request.ms": "1000"])
        defer { broker.stop() }
        var header = [UInt8](repeating: 0, count: 4)
        header.withUnsafeMutableBytes { BigEndian.store(UInt32(1 << 20), at: 0, in: $0) }
        let trickler = try StallingSender(port: broker.port, bytes: header)
        let idle = try RawConnection(port: broker.port, timeout: 10)
        let started = Date()
        var closed = false
        while !closed && Date().timeIntervalSince(started) < 20 {
            usleep(50_000)
            closed = trickler.isClosedByPeer()
            if !closed { trickler.send([1]) }
        }
        XCTAssertTrue(closed, "the trickler was never closed")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.9)
        XCTAssertTrue(broker.log.contains("a request frame stayed incomplete too long"), broker.log)
        // A connection with no partial frame is not affected.
        XCTAssertEqual(try idle.roundTrip(ApiVersionsRequest()).status.errorCode, .none)
    }
}

/// A connection that sends what the socket takes of `bytes` without ever blocking, then more
/// on each ``sendMore()``; it never reads.
private final class StallingSender {
    private let fd: Int32
    private let bytes: [UInt8]
    private var sent = 0

    init(port: Int, bytes: [UInt8]) throws {
        let fd = try connectedLoopbackSocket(port: port)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        self.bytes = bytes
        sendMore()
    }

    func sendMore() {
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            sent += n
        }
    }

    /// Sends `extra` bytes at once (whatever the socket takes).
    func send(_ extra: [UInt8]) {
        _ = extra.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Whether the broker closed the connection (end of input or reset), without blocking.
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    func close() {
        Glibc.close(fd)
    }
}
