import TernNet

extension BrokerConfig {
    /// Whether this node's quorum traffic uses TLS: the controller listeners are mapped to SSL
    /// (`listener.security.protocol.map`) and there are voters to talk to (a quorum of one has
    /// no controller listener to secure).
    public var controllerUsesTLS: Bool {
        cluster.controllerSecurityProtocol.usesTLS && !cluster.voters.isEmpty
    }

    /// The `ssl.*` files mutual TLS on the controller listener needs: certificate, key and CA.
    /// - Throws: ``ConfigError`` naming the first missing key.
    private func controllerTLSFiles() throws(ConfigError) -> (certificate: String, key: String, ca: String) {
        func path(_ key: String) throws(ConfigError) -> String {
            let value = (self[key] ?? "").trimmingWhitespace()
            guard !value.isEmpty else {
                let name = cluster.controllerListenerNames.first ?? "CONTROLLER"
                throw ConfigError(
                    origin: key,
                    reason: "listener.security.protocol.map puts \(name) on SSL, which is mutual TLS: every node needs "
                        + "ssl.certificate.location, ssl.key.location and ssl.ca.location (the CA that signs the nodes' certificates)"
                )
            }
            return value
        }
        return (try path("ssl.certificate.location"), try path("ssl.key.location"), try path("ssl.ca.location"))
    }

    /// The server side of this node's SSL controller listener: the `ssl.*` certificate, and a
    /// client certificate signed by `ssl.ca.location` required of every connection, whatever
    /// `ssl.client.auth` says (the certificate is how a node proves it is one). Nil when the node
    /// has no controller listener or it is plaintext.
    /// - Throws: ``ConfigError`` when a file key is missing.
    public func controllerListenerTLSConfiguration() throws(ConfigError) -> TLSConfiguration? {
        guard controllerUsesTLS, cluster.controllerListener != nil, cluster.localVoter != nil else { return nil }
        let files = try controllerTLSFiles()
        var configuration = TLSConfiguration(
            certificateChainPath: files.certificate, privateKeyPath: files.key,
            privateKeyPassword: nonEmpty("ssl.key.password"), caPath: files.ca)
        configuration.clientAuthentication = .required
        configuration.protocols = sslProtocols()
        configuration.cipherSuites = sslCipherSuites()
        return configuration
    }

    /// The client side: what this node speaks when it connects to a controller listener (Raft
    /// peers, registration and heartbeats, AlterPartition, forwarded requests). It presents its
    /// own `ssl.*` certificate, trusts `ssl.ca.location` only, and checks that the controller's
    /// certificate names the voter's host unless `ssl.endpoint.identification.algorithm = none`.
    /// Nil when the controller listeners are plaintext.
    /// - Throws: ``ConfigError`` when a file key is missing.
    public func controllerClientTLSConfiguration() throws(ConfigError) -> TLSConfiguration? {
        guard controllerUsesTLS else { return nil }
        let files = try controllerTLSFiles()
        var configuration = TLSConfiguration(
            certificateChainPath: files.certificate, privateKeyPath: files.key,
            privateKeyPassword: nonEmpty("ssl.key.password"), caPath: files.ca)
        configuration.verifyHostname = (self["ssl.endpoint.identification.algorithm"] ?? "https") != "none"
        configuration.protocols = sslProtocols()
        configuration.cipherSuites = sslCipherSuites()
        return configuration
    }

    private func nonEmpty(_ key: String) -> String? {
        let value = (self[key] ?? "").trimmingWhitespace()
        return value.isEmpty ? nil : value
    }

    /// `ssl.protocols`, TLS 1.2 and 1.3 when empty.
    private func sslProtocols() -> [TLSConfiguration.ProtocolVersion] {
        let chosen = (self["ssl.protocols"] ?? "").split(separator: ",").compactMap {
            TLSConfiguration.ProtocolVersion(rawValue: String($0).trimmingWhitespace())
        }
        return chosen.isEmpty ? [.tls12, .tls13] : chosen
    }

    /// `ssl.cipher.suites`; empty keeps OpenSSL's defaults.
    private func sslCipherSuites() -> [String] {
        (self["ssl.cipher.suites"] ?? "").split(separator: ",").map { String($0).trimmingWhitespace() }.filter {
            !$0.isEmpty
        }
    }
}
