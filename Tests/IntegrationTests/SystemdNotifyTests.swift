import Foundation
import TernTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `ternd` under a `Type=notify` service manager: READY=1 only once the port accepts, STOPPING=1
/// on SIGTERM, nothing when start-up fails.
final class SystemdNotifyTests: XCTestCase {
    /// A bound Unix datagram socket standing where systemd's notify socket would be.
    private final class NotifySocket {
        let path: String
        let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw BrokerProcessError("socket failed") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0 else { throw BrokerProcessError("bind \(path) failed: errno \(errno)") }
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// The next datagram, or nil after `timeout` seconds.
        func receive(timeout: Double) -> String? {
            var tv = timeval(tv_sec: Int(timeout), tv_usec: .init((timeout - floor(timeout)) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            return String(decoding: buffer[0..<n], as: UTF8.self)
        }
    }

    func testReadyOnlyAfterTheListenerAcceptsAndStoppingOnSigterm() throws {
        let directory = TemporaryDirectory("tern-notify")
        defer { directory.remove() }
        let notify = try NotifySocket(path: directory.path + "/notify.sock")
        let port = freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("ternd"))
        process.arguments = [
            "--set", "listeners=PLAINTEXT://127.0.0.1:\(port)", "--set", "log.dirs=\(directory.path)/data",
            "--set", "admin.listeners=127.0.0.1:\(freeLoopbackPort())",
        ]
        process.environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        let ready = try XCTUnwrap(notify.receive(timeout: 20), "no READY=1 from ternd")
        XCTAssertTrue(ready.split(separator: "\n").contains("READY=1"), ready)
        XCTAssertTrue(loopbackPortAccepts(port), "READY=1 arrived before the port accepted connections")
        XCTAssertTrue(ready.contains("STATUS=serving"), ready)
        XCTAssertEqual(notify.receive(timeout: 5), "WATCHDOG=1", "watchdog pings every WATCHDOG_USEC/2")

        kill(process.processIdentifier, SIGTERM)
        var stopping = false
        for _ in 0..<50 {
            guard let message = notify.receive(timeout: 5) else { break }
            if message.split(separator: "\n").contains("STOPPING=1") {
                stopping = true
                break
            }
        }
        XCTAssertTrue(stopping, "no STOPPING=1 after SIGTERM")
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testNoReadyWhenStartUpFails() throws {
        let directory = TemporaryDirectory("tern-notify")
        defer { directory.remove() }
        let notify = try NotifySocket(path: directory.path + "/notify.sock")
        let result = try runCommand(
            Binaries.path("ternd"), ["--set", "num.partitions=lots"], environment: ["NOTIFY_SOCKET": notify.path],
            timeout: 30)
        XCTAssertEqual(result.status, 78)
        XCTAssertNil(notify.receive(timeout: 0.3), "a broker that failed to start must not report READY")
    }
}
