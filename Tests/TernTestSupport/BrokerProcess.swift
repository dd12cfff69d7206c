import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Locates the executables this package builds (`ternd`, `tern`), next to the test binary.
public enum Binaries {
    /// The build directory holding the test binary and the package's executables.
    public static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["TERN_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // .build/debug/tern-packagePackageTests.xctest (a file on Linux, a bundle elsewhere)
        while url.pathComponents.count > 1 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("ternd").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }

    /// Full path of an executable built by this package.
    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// A port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range when there
/// is room (see ``LoopbackPorts``), so that no outgoing connection on the machine takes it while
/// a node that owns it is down between a stop and a restart (a restart keeps its ports).
public func freeLoopbackPort() -> Int { LoopbackPorts.shared.next() }

/// Hands out loopback ports for test processes to listen on.
///
/// Ports from `bind(0)` come from the ephemeral range (`ip_local_port_range`), the same range
/// every outgoing connection's local port is drawn from: a node stopped and restarted on its
/// port found it taken now and then by some connection made meanwhile (ternd exits 69, and a
/// restart cannot pick another port: the other nodes know this one). Ports below that range are
/// never given to outgoing connections. They are handed out in turn from a random start (so
/// concurrent test processes rarely meet, and one process never repeats one before wrapping),
/// each checked free by binding it; with no room below the range, `bind(0)` is the fallback.
public final class LoopbackPorts: Sendable {
    /// The ports of this process.
    public static let shared = LoopbackPorts()

    private let range: ClosedRange<Int>?
    private let cursor: Mutex<Int>

    init() {
        // "32768\t60999": the ephemeral range starts at the first number.
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap {
            Int($0)
        }
        if let ephemeralStart, ephemeralStart - 1 >= 10_000 + 1_000 {
            range = 10_000...(ephemeralStart - 1)
        } else {
            range = nil
        }
        cursor = Mutex(range.map { Int.random(in: $0) } ?? 0)
    }

    /// The next free port.
    public func next() -> Int {
        if let range {
            for _ in 0..<range.count {
                let port = cursor.withLock { cursor -> Int in
                    let port = cursor
                    cursor = cursor >= range.upperBound ? range.lowerBound : cursor + 1
                    return port
                }
                if Self.bindLoopback(port: port) != nil { return port }
            }
        }
        guard let port = Self.bindLoopback(port: 0) else { preconditionFailure("bind() failed") }
        return port
    }

    /// Binds a socket to 127.0.0.1:`port` (0: any) and closes it; the port bound, nil if taken.
    private static func bindLoopback(port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket() failed")
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        return bound == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
public func loopbackPortAccepts(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// A temporary directory removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "tern-test") {
        let template = NSTemporaryDirectory() + "\(prefix)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        precondition(made, "mkdtemp failed")
        path = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A real `ternd` process on a loopback port, stopped and reaped by PID.
public final class BrokerProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched by the test thread that owns this object.
    public let port: Int
    /// The admin HTTP listener's port (`admin.listeners`), or nil when the settings disable it.
    public let adminPort: Int?
    public let dataDirectory: String
    public let logFile: String
    private let process: Process

    /// Starts `ternd` on a free loopback port (and its admin listener on another, unless
    /// `settings` names `admin.listeners`) with its data in `dataDirectory` and waits (bounded)
    /// until both ports accept connections. With `descriptorLimit`, `ternd` runs as
    /// `bash -c 'ulimit -n LIMIT; exec ternd …'` (soft and hard limit both LIMIT; the PID is ternd's).
    ///
    /// A port picked here was free a moment before `ternd` binds it; another process on the
    /// machine can take it in between. When `ternd` then exits unable to bind, it is started again
    /// on freshly picked ports (at most ``startAttempts`` times); ports the caller gave stay.
    public init(
        dataDirectory: String, port: Int? = nil, settings: [String: String] = [:],
        environment: [String: String] = [:], readyTimeout: TimeInterval = 20, descriptorLimit: Int? = nil
    ) throws {
        var attempt = 1
        while true {
            let chosenPort = port ?? freeLoopbackPort()
            let chosenAdmin = settings["admin.listeners"] == nil ? freeLoopbackPort() : nil
            let adminPort = chosenAdmin ?? settings["admin.listeners"]?.split(separator: ":").last.flatMap { Int($0) }
            do {
                (process, logFile) = try Self.launch(
                    dataDirectory: dataDirectory, port: chosenPort, adminPort: adminPort, settings: settings,
                    environment: environment, readyTimeout: readyTimeout, descriptorLimit: descriptorLimit)
                self.port = chosenPort
                self.adminPort = adminPort
                self.dataDirectory = dataDirectory
                return
            } catch let error as BrokerProcessError
                where error.isAddressInUse && attempt < Self.startAttempts && (port == nil || chosenAdmin != nil)
            {
                attempt += 1
            }
        }
    }

    /// How many times ``init(dataDirectory:port:settings:environment:readyTimeout:descriptorLimit:)``
    /// starts `ternd` when a port it picked was taken before `ternd` could bind it.
    public static let startAttempts = 4

    /// Runs `ternd` and waits until its listener (and admin listener, if any) accept connections.
    private static func launch(
        dataDirectory: String, port: Int, adminPort: Int?, settings: [String: String],
        environment: [String: String], readyTimeout: TimeInterval, descriptorLimit: Int?
    ) throws -> (Process, String) {
        let logFile = dataDirectory + ".ternd-\(port)-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path("ternd"))
        var arguments = ["--set", "listeners=PLAINTEXT://127.0.0.1:\(port)", "--set", "log.dirs=\(dataDirectory)"]
        if settings["admin.listeners"] == nil, let adminPort {
            arguments += ["--set", "admin.listeners=127.0.0.1:\(adminPort)"]
        }
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(key)=\(value)"] }
        process.arguments = arguments
        if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments =
                ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", Binaries.path("ternd")] + arguments
        }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TERN_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(readyTimeout)
        func log() -> String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
        while !loopbackPortAccepts(port) || !(adminPort.map(loopbackPortAccepts) ?? true) {
            guard process.isRunning else {
                process.waitUntilExit()
                let text = log()
                try? FileManager.default.removeItem(atPath: logFile)
                throw BrokerProcessError(
                    "ternd exited with \(process.terminationStatus) before listening: \(text)",
                    isAddressInUse: process.terminationStatus == 69 && text.contains("Address already in use"))
            }
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw BrokerProcessError("ternd did not listen on \(port) within \(readyTimeout) s: \(log())")
            }
            usleep(20_000)
        }
        return (process, logFile)
    }

    /// `127.0.0.1:PORT`.
    public var bootstrap: String { "127.0.0.1:\(port)" }
    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// What the broker wrote to stderr so far.
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits (bounded) for exit; returns the exit status.
    @discardableResult
    public func stop(timeout: TimeInterval = 20) -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill9() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Kills the broker with SIGKILL and reaps it.
    public func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: logFile)
    }
}

/// A failure starting or driving a test process.
public struct BrokerProcessError: Error, CustomStringConvertible {
    public let description: String
    /// `ternd` exited because a port it was given was taken (exit 69, EADDRINUSE): starting it
    /// again on other ports may succeed.
    public let isAddressInUse: Bool
    public init(_ description: String, isAddressInUse: Bool = false) {
        self.description = description
        self.isAddressInUse = isAddressInUse
    }
}

/// The outcome of running a command to completion.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs an executable with arguments and optional stdin, waiting at most `timeout` seconds
/// (then SIGKILL). Output goes through files, so large outputs cannot deadlock a pipe.
public func runCommand(
    _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
    timeout: TimeInterval = 120
) throws -> CommandResult {
    let directory = TemporaryDirectory("tern-cmd")
    defer { directory.remove() }
    let outPath = directory.path + "/out"
    let errPath = directory.path + "/err"
    let inPath = directory.path + "/in"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    _ = FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { _, new in new }
    process.environment = env
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardInput =
        stdin == nil ? FileHandle.nullDevice : try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(5_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}
