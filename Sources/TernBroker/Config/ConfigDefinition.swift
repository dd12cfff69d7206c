/// How a configuration value is parsed and checked.
public enum ConfigType: Sendable, Equatable {
    /// A whole number within a range.
    case int(min: Int64, max: Int64)
    /// A decimal number within a range.
    case double(min: Double, max: Double)
    case bool
    case string
    /// One of a fixed set of words.
    case oneOf([String])
    /// A comma-separated list of words from a fixed set (`compact,delete`).
    case listOf([String])
    /// `process.roles`: `broker`, `controller`, or both, each once.
    case processRoles
    /// `controller.quorum.voters`: comma-separated `ID@HOST:PORT`, or empty.
    case quorumVoters
    /// Comma-separated listener names, at least one (`controller.listener.names`).
    case listenerNames
    /// `User:NAME` entries separated by `;`, or empty (`super.users`).
    case principals
    /// `NAME:PROTOCOL` pairs, comma-separated, or empty (`listener.security.protocol.map`).
    case securityProtocolMap
}

/// One configuration key: its name, default, type and documentation.
public struct ConfigDefinition: Sendable {
    public let name: String
    public let defaultValue: String
    public let type: ConfigType
    public let documentation: String

    public init(_ name: String, _ defaultValue: String, _ type: ConfigType, _ documentation: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.type = type
        self.documentation = documentation
    }

    /// Checks `value`; returns a reason when it is not acceptable.
    public func validate(_ value: String) -> String? {
        let trimmed = value.trimmingWhitespace()
        switch type {
        case .int(let min, let max):
            guard let number = Int64(trimmed) else { return "'\(value)' is not a whole number" }
            guard number >= min && number <= max else { return "\(number) is outside \(min)...\(max)" }
        case .double(let min, let max):
            guard let number = Double(trimmed), number.isFinite else { return "'\(value)' is not a number" }
            guard number >= min && number <= max else { return "\(number) is outside \(min)...\(max)" }
        case .bool:
            guard trimmed == "true" || trimmed == "false" else { return "'\(value)' is not true or false" }
        case .string:
            break
        case .oneOf(let words):
            guard words.contains(trimmed) else {
                return "'\(value)' is not one of \(words.joined(separator: ", "))"
            }
        case .listOf(let words):
            let items = trimmed.split(separator: ",").map { String($0).trimmingWhitespace() }
            guard !items.isEmpty else { return "empty list" }
            for item in items where !words.contains(item) {
                return "'\(item)' is not one of \(words.joined(separator: ", "))"
            }
        case .processRoles:
            do { _ = try ClusterConfig.parseRoles(trimmed) } catch { return error.reason }
        case .quorumVoters:
            do { _ = try ClusterConfig.parseVoters(trimmed) } catch { return error.reason }
        case .listenerNames:
            do { _ = try ClusterConfig.parseListenerNames(trimmed) } catch { return error.reason }
        case .principals:
            do { _ = try AuthorizerConfiguration.parseSuperUsers(trimmed) } catch { return error.reason }
        case .securityProtocolMap:
            do { _ = try ListenerSecurityProtocolMap(parsing: trimmed) } catch { return error.reason }
        }
        return nil
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
