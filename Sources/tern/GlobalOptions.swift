import ArgumentParser
import Logging
import TernClient

#if canImport(Glibc)
import Glibc
#endif

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Brokers to bootstrap from, HOST:PORT[,HOST:PORT...] (default: $TERN_BOOTSTRAP or localhost:9092).",
            valueName: "host:port"))
    var bootstrap: String?

    @Flag(name: .long, help: "Log the SDK's connections, retries and metadata refreshes to stderr.")
    var verbose = false

    @Option(
        name: .customLong("command-config"),
        help: ArgumentHelp(
            "Client properties, one KEY=VALUE a line (librdkafka's names: security.protocol, ssl.ca.location, ...).",
            valueName: "file"))
    var commandConfig: String?

    @Option(
        name: .customShort("X"),
        help: ArgumentHelp(
            "One client property, e.g. -X security.protocol=SSL -X ssl.ca.location=ca.pem (repeatable; wins over --command-config). Keys: \(ClientProperties.keys.joined(separator: ", ")).",
            valueName: "key=value"))
    var properties: [String] = []

    /// The bootstrap list: the option, else `bootstrap.servers` of the client properties, else
    /// `TERN_BOOTSTRAP`, else localhost:9092.
    var bootstrapList: String {
        if let bootstrap { return bootstrap }
        if let fromProperties = (try? ClientProperties(file: commandConfig, overrides: properties))?.bootstrap {
            return fromProperties
        }
        if let fromEnvironment = getenv("TERN_BOOTSTRAP"), let value = String(validatingCString: fromEnvironment),
            !value.isEmpty
        {
            return value
        }
        return "localhost:9092"
    }

    /// Parses the bootstrap list into `host:port` strings.
    /// - Throws: ``CLIFailure`` naming the bad entry.
    func bootstrapAddresses() throws -> [String] {
        do {
            return try BrokerAddress.parseList(bootstrapList).map(\.description)
        } catch {
            throw CLIFailure(error.message)
        }
    }

    /// The SDK settings for these options; `timeout` (when given) also bounds each connect and
    /// request.
    /// - Throws: ``CLIFailure`` naming a bad bootstrap entry or client property.
    func clientConfiguration(clientId: String = "tern-cli", timeout: Duration? = nil) throws -> ClientConfiguration {
        let clientProperties = try ClientProperties(file: commandConfig, overrides: properties)
        var configuration = ClientConfiguration(bootstrap: try bootstrapAddresses(), clientId: clientId)
        try clientProperties.apply(to: &configuration)
        if let timeout {
            configuration.connectTimeout = min(configuration.connectTimeout, timeout)
            configuration.requestTimeout = min(configuration.requestTimeout, timeout)
        }
        if verbose {
            var logger = Logger(label: "tern", factory: { label in StreamLogHandler.standardError(label: label) })
            logger.logLevel = .debug
            configuration.logger = logger
        }
        return configuration
    }

    /// Connects to the cluster.
    /// - Throws: ``CLIFailure`` with the SDK's reason (which names the address).
    func connect(clientId: String = "tern-cli") async throws -> TernClient {
        let configuration = try clientConfiguration(clientId: clientId)
        return try await CLIFailure.wrap { try await TernClient(configuration: configuration) }
    }
}
