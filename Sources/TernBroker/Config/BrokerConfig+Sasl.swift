import TernWire

extension BrokerConfig {
    /// The SASL policy of a listener from the `sasl.*` keys (validated when the config loaded).
    public func saslSettings(listenerUsesTLS: Bool) -> SaslAuthenticator.Settings {
        SaslAuthenticator.Settings(
            enabledMechanisms: (self["sasl.enabled.mechanisms"] ?? "").split(separator: ",").map {
                String($0).trimmingWhitespace()
            },
            failureDelayMs: Int64(self["connection.failed.authentication.delay.ms"] ?? "") ?? 100,
            listenerUsesTLS: listenerUsesTLS,
            allowPlainWithoutTLS: self["sasl.plain.allow.plaintext"] == "true")
    }

    /// The enabled SCRAM mechanisms, for the bootstrap users' credentials.
    public var enabledScramMechanisms: [ScramMechanism] {
        saslSettings(listenerUsesTLS: true).enabledMechanisms.compactMap { ScramMechanism(name: $0) }
    }

    /// The users of `sasl.bootstrap.users.file`; empty when the key is empty.
    /// - Throws: ``ConfigError`` when the file is missing, readable by group or others, or malformed.
    public func saslBootstrapUsers() throws(ConfigError) -> [SaslBootstrapUsers.Entry] {
        let path = (self["sasl.bootstrap.users.file"] ?? "").trimmingWhitespace()
        if path.isEmpty { return [] }
        return try SaslBootstrapUsers.load(path: path)
    }
}
