/// A refused SASL exchange. `reason` is for the broker's log and tests; what goes back to a client
/// is only ``clientMessage``, which does not say which part was wrong (user, password, nonce,
/// proof or syntax), so a failure teaches an attacker nothing.
public struct SaslFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// What a client is told, whatever went wrong.
    public static let clientMessage = "Authentication failed: invalid credentials"
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { "SASL authentication failed: \(reason)" }
}
