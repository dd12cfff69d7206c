import Foundation
import TernTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A SIGTERM at any moment of ternd's start-up stops it: before the handler is installed by the
/// default action, from then on by a graceful stop (once the listeners are up) — never ignored.
///
/// ternd used to set SIG_IGN and rely on Dispatch signal sources, which libdispatch registers
/// later, on its manager thread; a SIGTERM in between was discarded and ternd kept running (seen
/// once under load: "ternd ready", then nothing after SIGTERM). That window is well under a
/// millisecond, so this test watches `/proc/PID/status` in a tight loop and sends SIGTERM the
/// moment the process changes SIGTERM's disposition: with the old code that was SIG_IGN (seen in
/// about one start in five), and the SIGTERM sent then was lost.
final class StopSignalTests: XCTestCase {
    /// SIGTERM's bit in `/proc/PID/status`'s SigIgn (ignored) and SigCgt (caught) masks; nil
    /// once the process is gone.
    private func sigtermDisposition(_ pid: Int32, _ buffer: inout [UInt8]) -> (ignored: Bool, caught: Bool)? {
        let fd = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        func mask(_ name: String) -> UInt64? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return nil }
            return UInt64(line.dropFirst(name.count).trimmingCharacters(in: .whitespaces), radix: 16)
        }
        guard let ignored = mask("SigIgn:"), let caught = mask("SigCgt:") else { return nil }
        let bit = UInt64(1) << UInt64(SIGTERM - 1)
        return (ignored & bit != 0, caught & bit != 0)
    }

    private func spawn(_ directory: TemporaryDirectory, _ index: Int) throws -> (Process, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("ternd"))
        process.arguments = [
            "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", "admin.listeners=",
            "--set", "log.dirs=\(directory.path)/run-\(index)",
        ]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TERN_") }
        let log = "\(directory.path)/run-\(index).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, log)
    }

    /// Waits (20 s) for the process to end after SIGTERM; fails (and kills it) when it does not.
    private func assertStops(_ process: Process, _ log: String, _ when: String) {
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return XCTFail("SIGTERM \(when) was lost: still running 20 s later\n\(text)")
        }
        switch process.terminationReason {
        case .exit: XCTAssertEqual(process.terminationStatus, 0, "exit after SIGTERM \(when)\n\(text)")
        case .uncaughtSignal: XCTAssertEqual(process.terminationStatus, SIGTERM, "SIGTERM \(when)\n\(text)")
        @unknown default: XCTFail("unexpected termination after SIGTERM \(when)")
        }
    }

    func testSIGTERMWhenTheDispositionChangesStopsTheDaemon() throws {
        let directory = TemporaryDirectory("tern-stop-signal")
        defer { directory.remove() }
        var buffer = [UInt8](repeating: 0, count: 8192)
        for run in 0..<15 {
            let (process, log) = try spawn(directory, run)
            let pid = process.processIdentifier
            var ignored = false
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, let disposition = sigtermDisposition(pid, &buffer) {
                if disposition.ignored || disposition.caught {
                    ignored = disposition.ignored
                    break
                }
            }
            kill(pid, SIGTERM)
            XCTAssertFalse(ignored, "run \(run): SIGTERM was ignored during start-up")
            assertStops(process, log, "as its disposition changed (run \(run))")
        }
    }

    func testSIGTERMEarlyInStartUpStopsTheDaemon() throws {
        let directory = TemporaryDirectory("tern-stop-signal-early")
        defer { directory.remove() }
        for (run, delay) in [UInt32(0), 5, 50, 300].enumerated() {
            let (process, log) = try spawn(directory, run)
            usleep(delay * 1000)
            kill(process.processIdentifier, SIGTERM)
            assertStops(process, log, "\(delay) ms after start")
        }
    }
}
