/// The broker's authorization settings: `authorizer.enable`, `super.users`,
/// `allow.everyone.if.no.acl.found`.
public struct AuthorizerConfiguration: Hashable, Sendable {
    /// Whether requests are checked at all (`authorizer.enable`, default false).
    public var enabled: Bool
    /// Principals allowed everything (`super.users`).
    public var superUsers: Set<String>
    /// The answer when no ACL names a resource (`allow.everyone.if.no.acl.found`, default false).
    public var allowEveryoneIfNoAclFound: Bool

    public init(enabled: Bool = false, superUsers: Set<String> = [], allowEveryoneIfNoAclFound: Bool = false) {
        self.enabled = enabled
        self.superUsers = superUsers
        self.allowEveryoneIfNoAclFound = allowEveryoneIfNoAclFound
    }

    /// Parses `super.users`: `User:NAME` entries separated by `;` (Kafka's separator, since a name
    /// may hold a comma), spaces and empty entries ignored; empty means none.
    /// - Throws: ``ConfigError`` naming the first entry that is not `User:NAME`.
    public static func parseSuperUsers(_ value: String) throws(ConfigError) -> Set<String> {
        var users: Set<String> = []
        for raw in value.split(separator: ";", omittingEmptySubsequences: false) {
            let entry = String(raw).trimmingWhitespace()
            if entry.isEmpty { continue }
            guard entry.hasPrefix("User:"), entry.count > 5, entry != "User:*" else {
                throw ConfigError(
                    origin: "super.users",
                    reason: "'\(entry)' is not User:NAME (entries are separated by ';', e.g. User:admin;User:ops)")
            }
            users.insert(entry)
        }
        return users
    }
}

extension BrokerConfig {
    /// The authorizer settings from `authorizer.enable`, `super.users` and
    /// `allow.everyone.if.no.acl.found`.
    /// - Throws: ``ConfigError`` when `super.users` does not parse.
    public func authorizerConfiguration() throws(ConfigError) -> AuthorizerConfiguration {
        AuthorizerConfiguration(
            enabled: (self["authorizer.enable"] ?? "false").trimmingWhitespace() == "true",
            superUsers: try AuthorizerConfiguration.parseSuperUsers(self["super.users"] ?? ""),
            allowEveryoneIfNoAclFound: (self["allow.everyone.if.no.acl.found"] ?? "false").trimmingWhitespace()
                == "true")
    }
}
