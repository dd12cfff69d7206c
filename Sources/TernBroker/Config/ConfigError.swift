/// A configuration that cannot be used: names where the bad value came from and why.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    /// Where a value came from.
    public var origin: String
    public var reason: String

    public init(origin: String, reason: String) {
        self.origin = origin
        self.reason = reason
    }

    public var description: String { "\(origin): \(reason)" }
}
