import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// The broker's effective configuration: embedded defaults, overridden by the config file, then
/// by `TERN_<KEY>` environment variables, then by `--set key=value` (DESIGN.md section 8).
public struct BrokerConfig: Sendable {
    /// Where a value came from.
    public enum Source: Sendable, Equatable { case defaultValue, file, environment, commandLine }

    /// Every key's effective value, as text.
    public private(set) var values: [String: String]
    /// Where each key's value came from.
    public private(set) var sources: [String: Source]

    public let nodeId: Int32
    /// The client listeners (`listeners` named PLAINTEXT); the controller listener is in ``cluster``.
    public let listeners: [Listener]
    /// Roles, voters, the controller listener and the quorum's timeouts.
    public let cluster: ClusterConfig
    /// Where the admin HTTP listener binds (`admin.listeners`); empty when disabled.
    public let adminListeners: [Listener]
    public let advertisedListener: Listener
    /// The address advertised to the clients of each listener, in `listeners` order: the
    /// `advertised.listeners` entry of the listener's scheme, else the listener's own address.
    public let advertisedListeners: [Listener]
    public let logDirs: [String]
    public let numPartitions: Int32
    public let autoCreateTopics: Bool
    public let flushMode: FlushMode
    /// `log.flush.interval.ms`: background flush period of data no acks=all request flushed.
    public let flushIntervalMs: Int64
    /// `log.flush.offset.checkpoint.interval.ms`: how often the recovery points are checkpointed.
    public let checkpointIntervalMs: Int64
    public let maxRequestBytes: Int
    public let idleTimeoutMs: Int64
    /// `connections.max.partial.request.ms`: a request frame incomplete this long closes its connection.
    public let partialRequestTimeoutMs: Int64
    public let networkThreads: Int
    public let shutdownTimeoutMs: Int64
    public let logLevel: String
    /// `text` or `json`.
    public let logFormat: String
    public let messageMaxBytes: Int
    /// `offsets.commit.timeout.ms`: how long a group write to a replicated `__consumer_offsets`
    /// partition waits for its high watermark.
    public let offsetsCommitTimeoutMs: Int

    /// Environment variables of the `tern` CLI that share the `TERN_` prefix but are not broker
    /// keys: skipped, so a shell that sets them for the CLI can still start ternd.
    public static let clientVariables: Set<String> = ["TERN_BOOTSTRAP", "TERN_SASL_PASSWORD"]

    /// Reads the configuration.
    /// - Parameters:
    ///   - file: a config file path, or nil for embedded defaults only.
    ///   - environment: the process environment (`TERN_LOG_DIRS=...` overrides `log.dirs`).
    ///   - overrides: `key=value` strings from `--set`.
    /// - Throws: ``ConfigError`` naming the file and line (or variable, or argument) and the reason.
    public static func load(
        file: String?, environment: [String: String] = [:], overrides: [String] = []
    ) throws(ConfigError) -> BrokerConfig {
        var contents: (name: String, text: String)?
        if let file { contents = (file, try readFile(file)) }
        return try load(contents: contents, environment: environment, overrides: overrides)
    }

    /// Reads the configuration from a config file's text (`name` is its path, for messages): the
    /// parsing `load(file:environment:overrides:)` does once it has read the file, and what the
    /// `config-file` fuzz target feeds.
    static func load(
        contents: (name: String, text: String)?, environment: [String: String] = [:], overrides: [String] = []
    ) throws(ConfigError) -> BrokerConfig {
        var values: [String: String] = [:]
        var sources: [String: Source] = [:]
        for definition in BrokerConfigKeys.all {
            values[definition.name] = definition.defaultValue
            sources[definition.name] = .defaultValue
        }
        func set(_ key: String, _ value: String, origin: String, source: Source) throws(ConfigError) {
            guard let definition = BrokerConfigKeys.definition(key) else {
                throw ConfigError(origin: origin, reason: "unknown key '\(key)'")
            }
            if let reason = definition.validate(value) {
                throw ConfigError(origin: origin, reason: "bad value for \(key): \(reason)")
            }
            values[key] = value.trimmingWhitespace()
            sources[key] = source
        }

        if let (file, text) = contents {
            var lineNumber = 0
            // A key set twice in one file is almost always an edit gone wrong (the later line
            // silently winning hides the earlier one), so it stops start-up naming both lines.
            var firstLine: [String: Int] = [:]
            // "\r\n" is a single Character, which splitting on "\n" alone does not split: a CRLF
            // file would read as one line (all of it a comment when it starts with one).
            let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
            for rawLine in lines {
                lineNumber += 1
                let line = String(rawLine).trimmingWhitespace()
                if line.isEmpty || line.hasPrefix("#") { continue }
                let origin = "\(file):\(lineNumber)"
                guard let equals = line.firstIndex(of: "=") else {
                    throw ConfigError(origin: origin, reason: "expected 'key = value', got '\(line)'")
                }
                let key = String(line[..<equals]).trimmingWhitespace()
                let value = String(line[line.index(after: equals)...]).trimmingWhitespace()
                if let first = firstLine[key] {
                    throw ConfigError(
                        origin: origin, reason: "duplicate key '\(key)': already set on line \(first) of \(file)")
                }
                firstLine[key] = lineNumber
                try set(key, value, origin: origin, source: .file)
            }
        }

        // Environment variables override the file and `--set` overrides both (later `--set`s win
        // over earlier ones, as repeated command-line options do). Two variables naming the same
        // key (`TERN_LOG_DIRS` and `TERN_log_dirs`) have no order between them, so they are refused.
        var keyVariable: [String: String] = [:]
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("TERN_") {
            if Self.clientVariables.contains(variable) { continue }  // the CLI's, not broker keys
            let key = String(variable.dropFirst(5).lowercased().map { $0 == "_" ? "." : $0 })
            if let other = keyVariable[key] {
                throw ConfigError(
                    origin: "environment variable \(variable)",
                    reason: "sets '\(key)', which environment variable \(other) sets too")
            }
            keyVariable[key] = variable
            try set(key, value, origin: "environment variable \(variable)", source: .environment)
        }

        for override in overrides {
            guard let equals = override.firstIndex(of: "=") else {
                throw ConfigError(origin: "--set \(override)", reason: "expected key=value")
            }
            let key = String(override[..<equals]).trimmingWhitespace()
            try set(key, String(override[override.index(after: equals)...]), origin: "--set \(override)", source: .commandLine)
        }
        return try BrokerConfig(values: values, sources: sources)
    }

    private init(values: [String: String], sources: [String: Source]) throws(ConfigError) {
        self.values = values
        self.sources = sources
        func int(_ key: String) -> Int64 { Int64(values[key] ?? "") ?? 0 }  // validated above
        nodeId = Int32(int("node.id"))
        var allListeners: [Listener] = []
        for item in (values["listeners"] ?? "").split(separator: ",") {
            do {
                allListeners.append(try Listener(parsing: String(item).trimmingWhitespace()))
            } catch {
                throw ConfigError(origin: "listeners", reason: "\(error)")
            }
        }
        // Client listeners are named by their security protocol (PLAINTEXT, SSL, SASL_*); the names in
        // controller.listener.names carry the quorum, plaintext unless listener.security.protocol.map
        // maps them to SSL (ClusterConfig).
        let controllerNames = try ClusterConfig.parseListenerNames(values["controller.listener.names"] ?? "")
        let clientNames = SecurityProtocol.allCases.map(\.rawValue)
        for listener in allListeners where !clientNames.contains(listener.name) && !controllerNames.contains(listener.name) {
            throw ConfigError(
                origin: "listeners",
                reason: "\(listener): unknown listener name \(listener.name); use PLAINTEXT://HOST:PORT (or SSL://, "
                    + "SASL_PLAINTEXT://, SASL_SSL://) for clients or \(controllerNames[0])://HOST:PORT (controller.listener.names) "
                    + "for the quorum")
        }
        cluster = try ClusterConfig(values: values, listeners: allListeners)
        let listeners = allListeners.filter { !controllerNames.contains($0.name) }
        if cluster.roles.contains(.broker) && listeners.isEmpty {
            throw ConfigError(origin: "listeners", reason: "at least one listener is required (PLAINTEXT://HOST:PORT)")
        }
        self.listeners = listeners
        var adminListeners: [Listener] = []
        for item in (values["admin.listeners"] ?? "").split(separator: ",") {
            let text = String(item).trimmingWhitespace()
            if text.isEmpty { continue }
            do {
                adminListeners.append(try Listener(parsingAddress: text))
            } catch {
                throw ConfigError(origin: "admin.listeners", reason: "\(error.reason) (expected HOST:PORT)")
            }
        }
        self.adminListeners = adminListeners
        var advertised: [Listener] = []
        for item in (values["advertised.listeners"] ?? "").split(separator: ",") {
            let text = String(item).trimmingWhitespace()
            if text.isEmpty { continue }
            do {
                advertised.append(try Listener(parsing: text))
            } catch {
                throw ConfigError(origin: "advertised.listeners", reason: "\(error)")
            }
        }
        if listeners.isEmpty {
            // A controller-only node has no client listener; it advertises its controller listener.
            guard var own = advertised.first(where: { controllerNames.contains($0.name) }) ?? cluster.controllerListener
            else {
                throw ConfigError(origin: "listeners", reason: "at least one listener is required")
            }
            if own.host == "0.0.0.0" || own.host == "::" { own.host = Self.hostName() }
            advertisedListeners = []
            advertisedListener = own
        } else {
            advertisedListeners = Self.advertise(
                listeners: listeners, advertised: advertised.filter { !controllerNames.contains($0.name) })
            advertisedListener = advertisedListeners[0]
        }
        logDirs = (values["log.dirs"] ?? "").split(separator: ",").map { String($0).trimmingWhitespace() }
            .filter { !$0.isEmpty }
        guard !logDirs.isEmpty else { throw ConfigError(origin: "log.dirs", reason: "at least one directory is required") }
        numPartitions = Int32(int("num.partitions"))
        autoCreateTopics = values["auto.create.topics.enable"] == "true"
        flushMode = values["log.flush.mode"] == "interval" ? .interval(milliseconds: int("log.flush.interval.ms")) : .sync
        flushIntervalMs = int("log.flush.interval.ms")
        checkpointIntervalMs = int("log.flush.offset.checkpoint.interval.ms")
        maxRequestBytes = Int(int("socket.request.max.bytes"))
        idleTimeoutMs = int("connections.max.idle.ms")
        partialRequestTimeoutMs = int("connections.max.partial.request.ms")
        networkThreads = Int(int("num.network.threads"))
        shutdownTimeoutMs = int("shutdown.timeout.ms")
        logLevel = values["log.level"] ?? "info"
        logFormat = values["log.format"] ?? "text"
        messageMaxBytes = Int(int("message.max.bytes"))
        offsetsCommitTimeoutMs = Int(int("offsets.commit.timeout.ms"))
    }

    /// Pairs each listener with what its clients are told: the advertised entry of the same scheme
    /// (the one at the same position when several listeners share a scheme), else the listener
    /// itself, with the machine's host name for a wildcard address.
    private static func advertise(listeners: [Listener], advertised: [Listener]) -> [Listener] {
        listeners.enumerated().map { index, listener in
            let sameScheme = advertised.filter { $0.securityProtocol == listener.securityProtocol }
            if sameScheme.count == 1 && listeners.filter({ $0.securityProtocol == listener.securityProtocol }).count == 1 {
                return sameScheme[0]
            }
            if index < advertised.count && advertised[index].securityProtocol == listener.securityProtocol {
                return advertised[index]
            }
            // A single entry of another scheme keeps its old meaning: the address of the broker.
            if listeners.count == 1, let only = advertised.first { return only }
            var own = listener
            if own.host == "0.0.0.0" || own.host == "::" { own.host = hostName() }
            return own
        }
    }

    /// The effective value of a key.
    public subscript(key: String) -> String? { values[key] }

    private static func readFile(_ path: String) throws(ConfigError) -> String {
        guard let file = fopen(path, "r") else {
            let reason = String(cString: strerror(errno))
            throw ConfigError(origin: path, reason: "cannot read the config file: \(reason)")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
            if bytes.count > 16 << 20 { throw ConfigError(origin: path, reason: "config file larger than 16 MiB") }
        }
        guard ferror(file) == 0 else { throw ConfigError(origin: path, reason: "error reading the config file") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(origin: path, reason: "the config file is not valid UTF-8")
        }
        return text
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
