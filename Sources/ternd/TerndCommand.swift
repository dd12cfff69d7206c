import ArgumentParser
import Dispatch
import Logging
import TernBroker
import TernNet
import TernStorage

#if canImport(Glibc)
import Glibc
#endif

/// `ternd`: the Tern broker daemon. The entry point (`@main`, no main.swift: its top level would
/// be main-actor code, and an async `main()` called from there resolves to the synchronous one).
@main
struct TerndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ternd",
        abstract: "The Tern event-streaming broker.",
        discussion: """
            With no arguments, runs a single-node broker on 127.0.0.1:9092 with data under ./tern-data.
            Configuration: embedded defaults < --config FILE < TERN_<KEY> environment variables
            (dots as underscores, e.g. TERN_LOG_DIRS) < --set KEY=VALUE.
            Exit codes: 0 clean stop, 64 bad arguments, 69 a listener (broker or admin) cannot bind,
            70 internal error,
            73 data directory unusable, 78 bad configuration (including an unusable TLS certificate or key).
            SIGHUP reloads the SSL listeners' certificates and keys (new connections use them).
            """)

    @Option(name: .long, help: "A config file of 'key = value' lines.")
    var config: String?

    @Option(name: .customLong("set"), help: "Override one key: --set log.dirs=/var/lib/tern (repeatable).")
    var overrides: [String] = []

    func run() async throws {
        MallocTuning.apply()
        let environment = Self.environment()
        let brokerConfig: BrokerConfig
        do {
            brokerConfig = try BrokerConfig.load(file: config, environment: environment, overrides: overrides)
        } catch {
            Self.fail("configuration error: \(error)", code: TerndExit.config)
        }
        let level = Logger.Level(rawValue: brokerConfig.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = TextLogHandler(label: label, json: brokerConfig.logFormat == "json")
            handler.logLevel = level
            return handler
        }
        let metrics = MetricsExporter.bootstrap()
        let logger = Logger(label: "ternd")
        DescriptorLimit.raise(logger: logger)
        // Certificates are read before anything starts: a bad file is a configuration error.
        let tls: ListenerTLS?
        do {
            tls = try ListenerTLS.load(config: brokerConfig, logger: logger)
        } catch {
            logger.critical("configuration error", metadata: ["error": "\(error)"])
            Self.fail("configuration error: \(error)", code: TerndExit.config)
        }
        // The bootstrap users file too: missing, readable by group or others, or malformed is a
        // configuration error (exit 78), never a broker that starts without its users.
        let bootstrapUsers: [SaslBootstrapUsers.Entry]
        do {
            bootstrapUsers = try brokerConfig.saslBootstrapUsers()
        } catch {
            logger.critical("configuration error", metadata: ["error": "\(error)"])
            Self.fail("configuration error: \(error)", code: TerndExit.config)
        }
        let daemon = Daemon(
            config: brokerConfig, tls: tls, bootstrapUsers: bootstrapUsers, logger: logger, environment: environment,
            metrics: metrics)
        await daemon.run()
    }

    static func fail(_ message: String, code: Int32) -> Never {
        StandardError.write("ternd: \(message)\n")
        Glibc.exit(code)
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
