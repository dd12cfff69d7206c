import Foundation
import TernClient

/// Client settings by librdkafka's names, from `--command-config FILE` (`key=value` lines, `#`
/// comments) and `-X KEY=VALUE` (which win over the file), applied to a ``ClientConfiguration``.
struct ClientProperties {
    /// Every key accepted.
    static let keys = [
        "bootstrap.servers", "security.protocol", "ssl.ca.location", "ssl.certificate.location", "ssl.key.location",
        "ssl.key.password", "ssl.endpoint.identification.algorithm", "enable.ssl.certificate.verification",
        "sasl.mechanism", "sasl.username", "sasl.password",
    ]

    /// Where `sasl.password` comes from when no property sets it: keeps it off the command line
    /// (and out of `ps`). ternd skips this `TERN_` variable (`BrokerConfig.clientVariables`).
    static let passwordVariable = "TERN_SASL_PASSWORD"

    private(set) var values: [String: String] = [:]

    /// Reads the file (when given), then the `-X` entries.
    /// - Throws: ``CLIFailure`` naming the file and line, or the `-X` entry, and what is wrong.
    init(file: String?, overrides: [String]) throws {
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw CLIFailure("cannot read --command-config \(file): \((error as NSError).localizedDescription)")
            }
            for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = rawLine.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { continue }
                try set(line, origin: "\(file):\(index + 1)")
            }
        }
        for entry in overrides {
            try set(entry, origin: "-X \(entry)")
        }
    }

    private mutating func set(_ entry: String, origin: String) throws {
        guard let equals = entry.firstIndex(of: "=") else { throw CLIFailure("\(origin): expected KEY=VALUE") }
        let key = entry[..<equals].trimmingCharacters(in: .whitespaces)
        let value = entry[entry.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        guard Self.keys.contains(key) else {
            throw CLIFailure("\(origin): unknown client property '\(key)'; known: \(Self.keys.joined(separator: ", "))")
        }
        values[key] = value
    }

    /// `bootstrap.servers`, when set.
    var bootstrap: String? { values["bootstrap.servers"].flatMap { $0.isEmpty ? nil : $0 } }

    /// Applies the TLS and SASL settings to `configuration`.
    /// - Parameter environment: where ``passwordVariable`` is looked up.
    /// - Throws: ``CLIFailure`` for a bad value, `ssl.*` settings without TLS, `sasl.*` settings
    ///   without SASL, or SASL without its mechanism, user or password.
    func apply(
        to configuration: inout ClientConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let protocolName = (values["security.protocol"] ?? "PLAINTEXT").uppercased()
        func path(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        let usesTLS = protocolName == "SSL" || protocolName == "SASL_SSL"
        let usesSASL = protocolName == "SASL_PLAINTEXT" || protocolName == "SASL_SSL"
        if ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(protocolName) {
            if !usesTLS, let key = values.keys.sorted().first(where: { $0.hasPrefix("ssl.") || $0.hasPrefix("enable.ssl.") }) {
                throw CLIFailure(
                    "\(key) is set but security.protocol is \(protocolName) (set security.protocol=SSL or SASL_SSL)")
            }
            if !usesSASL, let key = values.keys.sorted().first(where: { $0.hasPrefix("sasl.") }) {
                throw CLIFailure(
                    "\(key) is set but security.protocol is \(protocolName) (set security.protocol=SASL_SSL or SASL_PLAINTEXT)")
            }
        }
        if usesSASL { configuration.sasl = try sasl(environment: environment) }
        switch protocolName {
        case "PLAINTEXT", "SASL_PLAINTEXT":
            break
        case "SSL", "SASL_SSL":
            var tls = ClientTLS(
                caLocation: path("ssl.ca.location"), certificateLocation: path("ssl.certificate.location"),
                keyLocation: path("ssl.key.location"), keyPassword: values["ssl.key.password"])
            switch values["ssl.endpoint.identification.algorithm"]?.lowercased() ?? "https" {
            case "https": tls.verifyHostname = true
            case "none", "": tls.verifyHostname = false
            case let other:
                throw CLIFailure("ssl.endpoint.identification.algorithm must be https or none, got '\(other)'")
            }
            switch values["enable.ssl.certificate.verification"]?.lowercased() ?? "true" {
            case "true": tls.verifyCertificate = true
            case "false": tls.verifyCertificate = false
            case let other:
                throw CLIFailure("enable.ssl.certificate.verification must be true or false, got '\(other)'")
            }
            configuration.tls = tls
        default:
            throw CLIFailure(
                "security.protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got '\(protocolName)'")
        }
    }

    /// The SASL settings: `sasl.mechanism` and `sasl.username` required, the password from
    /// `sasl.password` or else ``passwordVariable``. Messages never include the password.
    private func sasl(environment: [String: String]) throws -> ClientSASL {
        guard let name = values["sasl.mechanism"], !name.isEmpty else {
            throw CLIFailure("SASL needs sasl.mechanism (SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN)")
        }
        guard let mechanism = ClientSASL.Mechanism(name: name) else {
            throw CLIFailure("sasl.mechanism must be SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN, got '\(name)'")
        }
        guard let username = values["sasl.username"], !username.isEmpty else {
            throw CLIFailure("SASL needs sasl.username")
        }
        guard let password = values["sasl.password"] ?? environment[Self.passwordVariable], !password.isEmpty else {
            throw CLIFailure("SASL needs a password: -X sasl.password=... or the \(Self.passwordVariable) environment variable")
        }
        let settings = ClientSASL(mechanism: mechanism, username: username, password: password)
        do {
            try settings.validate()
        } catch {
            throw CLIFailure(error.message)
        }
        return settings
    }
}
