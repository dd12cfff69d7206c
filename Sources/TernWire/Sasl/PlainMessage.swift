/// A SASL PLAIN message (RFC 4616): `[authzid] NUL authcid NUL passwd`, UTF-8.
public struct PlainMessage: Hashable, Sendable {
    public var authorizationId: String?
    public var username: String
    public var password: String

    public init(authorizationId: String? = nil, username: String, password: String) {
        self.authorizationId = authorizationId
        self.username = username
        self.password = password
    }

    /// The message's bytes.
    public var encoded: [UInt8] {
        Array((authorizationId ?? "").utf8) + [0] + Array(username.utf8) + [0] + Array(password.utf8)
    }

    /// Parses a PLAIN message strictly: exactly two NULs, a non-empty user and password of at most
    /// 255 bytes each (RFC 4616), valid UTF-8, and an authzid that is empty or the user's own (as
    /// Kafka requires: a user may not act as another).
    public static func parse(_ bytes: [UInt8]) throws(SaslFailure) -> PlainMessage {
        guard bytes.count <= 1024 else { throw SaslFailure("PLAIN message of \(bytes.count) bytes") }
        let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SaslFailure("PLAIN message needs exactly two NUL separators") }
        guard let authzid = String(validating: parts[0], as: UTF8.self),
            let user = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self)
        else { throw SaslFailure("PLAIN message is not UTF-8") }
        guard !user.isEmpty, !password.isEmpty, parts[1].count <= 255, parts[2].count <= 255 else {
            throw SaslFailure("PLAIN user or password empty or too long")
        }
        guard authzid.isEmpty || authzid == user else {
            throw SaslFailure("PLAIN authorization id differs from the user")
        }
        return PlainMessage(authorizationId: authzid.isEmpty ? nil : authzid, username: user, password: password)
    }
}
