import Foundation
import TernClient

/// Client settings by librdkafka's names, from `--command-config FILE` (`key=value` lines, `#`
/// comments) and `-X KEY=VALUE` (which win over the file), applied to a ``ClientConfiguration``.
struct ClientProperties {
    /// Every key accepted.
    static let keys = [
        "bootstrap.servers", "security.protocol", "ssl.ca.location", "ssl.certificate.location", "ssl.key.location",
        "ssl.key.password", "ssl.endpoint.identification.algorithm", "enable.ssl.certificate.verification",
    ]

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

    /// Applies the TLS settings to `configuration`.
    /// - Throws: ``CLIFailure`` for a bad value, a SASL protocol (not supported yet), or `ssl.*`
    ///   settings without `security.protocol=SSL`.
    func apply(to configuration: inout ClientConfiguration) throws {
        let protocolName = (values["security.protocol"] ?? "PLAINTEXT").uppercased()
        func path(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }
        switch protocolName {
        case "PLAINTEXT":
            if let key = values.keys.sorted().first(where: { $0.hasPrefix("ssl.") || $0.hasPrefix("enable.ssl.") }) {
                throw CLIFailure("\(key) is set but security.protocol is PLAINTEXT (set security.protocol=SSL)")
            }
        case "SSL":
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
        case "SASL_PLAINTEXT", "SASL_SSL":
            throw CLIFailure(
                "security.protocol=\(protocolName) is not supported yet (SASL is not implemented); use PLAINTEXT or SSL"
            )
        default:
            throw CLIFailure("security.protocol must be PLAINTEXT or SSL, got '\(protocolName)'")
        }
    }
}
