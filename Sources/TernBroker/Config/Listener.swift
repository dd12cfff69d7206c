/// A `NAME://HOST:PORT` listener address, as in Kafka's `listeners`.
///
/// The name is what the listener is for and, for client listeners, its security protocol
/// (`PLAINTEXT://`, `SSL://`, `SASL_PLAINTEXT://`, `SASL_SSL://`); other names (`CONTROLLER`
/// for the metadata quorum, …) are plaintext when parsed, as Kafka's defaults are without
/// `listener.security.protocol.map` (``ClusterConfig`` applies the map to the controller
/// listener). Names are upper-cased on
/// parsing, as Kafka normalises them. Which names a configuration accepts is decided by
/// ``BrokerConfig``.
public struct Listener: Sendable, Hashable, CustomStringConvertible {
    /// The name of client listeners, and the default.
    public static let plaintextName = "PLAINTEXT"

    public var name: String
    public var host: String
    public var port: Int
    /// How connections to this listener are secured.
    public var securityProtocol: SecurityProtocol

    public init(name: String = Listener.plaintextName, host: String, port: Int) {
        self.name = name
        self.host = host
        self.port = port
        securityProtocol = SecurityProtocol(rawValue: name.uppercased()) ?? .plaintext
    }

    /// Parses `NAME://HOST:PORT`; an empty host means every interface, `[v6]` brackets allowed.
    /// The name is 1–64 ASCII letters, digits, `_` or `-`, upper-cased.
    public init(parsing text: String) throws(ConfigError) {
        guard let separator = text.firstRange(of: "://") else {
            throw ConfigError(origin: text, reason: "a listener must look like PLAINTEXT://HOST:PORT")
        }
        let name = String(text[..<separator.lowerBound])
        guard Self.isValidName(name) else {
            throw ConfigError(
                origin: text,
                reason: "listener name '\(name)' must be 1-64 ASCII letters, digits, '_' or '-' "
                    + "(a listener must look like PLAINTEXT://HOST:PORT)")
        }
        // A security protocol's name selects that protocol;
        // any other name is plaintext.
        if SecurityProtocol(rawValue: name.uppercased()) != nil {
            securityProtocol = try SecurityProtocol(scheme: Substring(name), listener: text)
        } else {
            securityProtocol = .plaintext
        }
        let address = text[separator.upperBound...]
        guard let colon = address.lastIndex(of: ":") else {
            throw ConfigError(origin: text, reason: "missing :PORT")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "@") })
        else {
            throw ConfigError(origin: text, reason: "host '\(host)' has spaces, '/', '@' or non-ASCII characters")
        }
        let portText = address[address.index(after: colon)...]
        guard portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let port = Int(portText),
            (0...65535).contains(port)
        else {
            throw ConfigError(origin: text, reason: "port must be a number from 0 to 65535")
        }
        self.name = name.uppercased()
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    /// Parses a plain `HOST:PORT` (the admin listener; an `http://` prefix is allowed).
    public init(parsingAddress text: String) throws(ConfigError) {
        var address = Substring(text)
        if address.hasPrefix("http://") { address = address.dropFirst("http://".count) }
        try self.init(parsing: "PLAINTEXT://" + address)
    }

    /// True for 1–64 ASCII letters, digits, `_` or `-`.
    static func isValidName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// `HOST:PORT`, with brackets around an IPv6 host.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { "\(name)://\(address)" }
}
