/// A broker's `host:port` address.
public struct BrokerAddress: Hashable, Sendable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (`[v6-address]:port` for IPv6).
    /// - Throws: ``TernError`` `.invalidArgument` naming the entry and what is wrong with it.
    public init(parsing text: String) throws(TernError) {
        let entry = text.trimmingSpaces
        func bad(_ why: String) -> TernError {
            TernError(.invalidArgument, "bad broker address '\(text)': \(why) (expected HOST:PORT)")
        }
        guard !entry.isEmpty else { throw bad("empty") }
        let host: Substring
        let portText: Substring
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]") else { throw bad("missing ']'") }
            host = entry[entry.index(after: entry.startIndex)..<close]
            let rest = entry[entry.index(after: close)...]
            guard rest.hasPrefix(":") else { throw bad("missing port") }
            portText = rest.dropFirst()
        } else {
            guard let colon = entry.lastIndex(of: ":") else { throw bad("missing port") }
            host = entry[..<colon]
            portText = entry[entry.index(after: colon)...]
            guard !host.contains(":") else { throw bad("IPv6 addresses need brackets, as in [::1]:9092") }
        }
        guard !host.isEmpty else { throw bad("missing host") }
        guard !portText.isEmpty else { throw bad("missing port") }
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw bad("port '\(portText)' is not a number from 1 to 65535")
        }
        self.init(host: String(host), port: port)
    }

    /// Parses a comma-separated list (`host1:9092,host2:9092`); blank entries are refused.
    /// - Throws: ``TernError`` `.invalidArgument` for the first bad entry or an empty list.
    public static func parseList(_ text: String) throws(TernError) -> [BrokerAddress] {
        try parseList(text.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
    }

    /// Parses each `host:port` entry of `entries`.
    /// - Throws: ``TernError`` `.invalidArgument` for the first bad entry or an empty list.
    public static func parseList(_ entries: [String]) throws(TernError) -> [BrokerAddress] {
        guard !entries.isEmpty else { throw TernError(.invalidArgument, "no bootstrap brokers given") }
        var result: [BrokerAddress] = []
        for entry in entries { result.append(try BrokerAddress(parsing: entry)) }
        return result
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = text.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return text[first...last]
    }
}
