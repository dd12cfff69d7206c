/// `listener.security.protocol.map`, Kafka's key: comma-separated `NAME:PROTOCOL` pairs saying how
/// the listener of each name is secured, e.g. `CONTROLLER:SSL,PLAINTEXT:PLAINTEXT`.
///
/// Unmapped names keep the default (Kafka's without the key): a security protocol's name is that
/// protocol, any other name (`CONTROLLER`) is `PLAINTEXT`. Client listeners are named by their
/// protocol (clients, replica fetchers and the registered listeners all read the protocol from
/// the name), so a client name may only map to itself; the map is what secures the controller
/// listener.
public struct ListenerSecurityProtocolMap: Sendable, Hashable {
    /// The pairs, by upper-cased listener name.
    public private(set) var entries: [String: SecurityProtocol] = [:]

    /// The empty map: every name has its default protocol.
    public init() {}

    /// Parses the key's value on its own (names, protocols, duplicates, client names mapped to
    /// another protocol); ``ClusterConfig`` checks the names against `controller.listener.names`.
    /// Empty text is the empty map.
    /// - Throws: ``ConfigError`` with origin `listener.security.protocol.map` and the reason.
    public init(parsing text: String) throws(ConfigError) {
        let trimmed = text.trimmingWhitespace()
        if trimmed.isEmpty { return }
        func refuse(_ reason: String) -> ConfigError {
            ConfigError(origin: Self.key, reason: reason + " (expected NAME:PROTOCOL,..., e.g. CONTROLLER:SSL)")
        }
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(item).trimmingWhitespace()
            guard let colon = entry.firstIndex(of: ":") else { throw refuse("'\(entry)' has no ':'") }
            let name = String(entry[..<colon]).trimmingWhitespace()
            let protocolName = String(entry[entry.index(after: colon)...]).trimmingWhitespace()
            guard Listener.isValidName(name) else {
                throw refuse("'\(name)' in '\(entry)' is not a listener name (1-64 ASCII letters, digits, '_' or '-')")
            }
            guard let securityProtocol = SecurityProtocol(rawValue: protocolName.uppercased()) else {
                throw refuse(
                    "unknown security protocol '\(protocolName)' in '\(entry)' (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)"
                )
            }
            let upper = name.uppercased()
            if let own = SecurityProtocol(rawValue: upper), own != securityProtocol {
                throw ConfigError(
                    origin: Self.key,
                    reason: "'\(entry)': \(upper) is a client listener, which is always \(upper); name the listener "
                        + "as its protocol (\(securityProtocol.rawValue)://HOST:PORT) instead")
            }
            guard entries.updateValue(securityProtocol, forKey: upper) == nil else {
                throw refuse("\(upper) is mapped twice")
            }
        }
    }

    /// The protocol of the listener named `name`: its entry, else the default.
    public func securityProtocol(of name: String) -> SecurityProtocol {
        let upper = name.uppercased()
        return entries[upper] ?? SecurityProtocol(rawValue: upper) ?? .plaintext
    }

    /// Checks the names against the listener names a configuration can have: security protocol
    /// names and `controllerNames`; a controller listener may be PLAINTEXT or SSL.
    /// - Throws: ``ConfigError`` naming the key.
    func check(controllerNames: [String]) throws(ConfigError) {
        for (name, securityProtocol) in entries.sorted(by: { $0.key < $1.key }) {
            if SecurityProtocol(rawValue: name) != nil { continue }
            guard controllerNames.contains(name) else {
                throw ConfigError(
                    origin: Self.key,
                    reason: "unknown listener name \(name): a listener is named by its security protocol "
                        + "(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) or in controller.listener.names "
                        + "(\(controllerNames.joined(separator: ",")))")
            }
            guard !securityProtocol.usesSASL else {
                throw ConfigError(
                    origin: Self.key,
                    reason: "\(name):\(securityProtocol.rawValue): the controller listener is PLAINTEXT or SSL "
                        + "(mutual TLS); SASL is not offered there")
            }
        }
    }

    static let key = "listener.security.protocol.map"
}
