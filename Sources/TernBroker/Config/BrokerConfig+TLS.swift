import TernNet

extension BrokerConfig {
    /// Whether any listener uses TLS.
    public var hasTLSListener: Bool { listeners.contains { $0.securityProtocol.usesTLS } }

    /// The TLS settings of the SSL listeners from the `ssl.*` keys; nil when no listener uses TLS.
    /// - Throws: ``ConfigError`` when an SSL listener lacks its certificate or key.
    public func listenerTLSConfiguration() throws(ConfigError) -> TLSConfiguration? {
        guard hasTLSListener else { return nil }
        func path(_ key: String) -> String? {
            let value = self[key] ?? ""
            return value.isEmpty ? nil : value
        }
        guard let certificate = path("ssl.certificate.location") else {
            throw ConfigError(
                origin: "ssl.certificate.location", reason: "an SSL:// listener needs a certificate (PEM chain)")
        }
        guard let key = path("ssl.key.location") else {
            throw ConfigError(
                origin: "ssl.key.location", reason: "an SSL:// listener needs the certificate's private key (PEM)")
        }
        var configuration = TLSConfiguration(
            certificateChainPath: certificate, privateKeyPath: key, privateKeyPassword: path("ssl.key.password"),
            caPath: path("ssl.ca.location"))
        configuration.clientAuthentication =
            TLSConfiguration.ClientAuthentication(rawValue: self["ssl.client.auth"] ?? "none") ?? .none
        configuration.protocols = (self["ssl.protocols"] ?? "").split(separator: ",").compactMap {
            TLSConfiguration.ProtocolVersion(rawValue: String($0).trimmingWhitespace())
        }
        configuration.cipherSuites = (self["ssl.cipher.suites"] ?? "").split(separator: ",").map {
            String($0).trimmingWhitespace()
        }.filter { !$0.isEmpty }
        return configuration
    }
}
