/// A `PLAINTEXT://HOST:PORT` or `SSL://HOST:PORT` listener address.
public struct Listener: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The scheme: how connections to this listener are secured.
    public var securityProtocol = SecurityProtocol.plaintext

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `PLAINTEXT://HOST:PORT` or `SSL://HOST:PORT`; an empty host means every interface,
    /// `[v6]` brackets allowed. `SASL_PLAINTEXT://` and `SASL_SSL://` are refused as not
    /// supported yet.
    public init(parsing text: String) throws(ConfigError) {
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else {
            throw ConfigError(origin: text, reason: "a listener must look like PLAINTEXT://HOST:PORT or SSL://HOST:PORT")
        }
        securityProtocol = try SecurityProtocol(scheme: text[..<colon], listener: text)
        let address = text[colon...].dropFirst(3)
        guard let colon = address.lastIndex(of: ":") else {
            throw ConfigError(origin: text, reason: "missing :PORT")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigError(origin: text, reason: "port must be a number from 0 to 65535")
        }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    /// Parses a plain `HOST:PORT` (the admin listener; an `http://` prefix is allowed).
    public init(parsingAddress text: String) throws(ConfigError) {
        var address = Substring(text)
        if address.hasPrefix("http://") { address = address.dropFirst("http://".count) }
        try self.init(parsing: "PLAINTEXT://" + address)
    }

    /// `HOST:PORT`, with brackets around an IPv6 host.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { "\(securityProtocol.rawValue)://\(address)" }
}
