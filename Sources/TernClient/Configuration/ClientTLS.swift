import TernNet

/// TLS settings of a ``TernClient`` (`security.protocol=SSL`): which CA to trust, an optional
/// client certificate for brokers that require one, and whether to verify the broker.
///
/// ```swift
/// var configuration = ClientConfiguration(bootstrap: ["broker.example.com:9093"])
/// configuration.tls = ClientTLS(caLocation: "/etc/tern/ca.pem")
/// ```
public struct ClientTLS: Sendable {
    /// The CA certificates (PEM) that sign the brokers' certificates (`ssl.ca.location`); nil
    /// trusts the system's default store.
    public var caLocation: String?
    /// This client's certificate chain (PEM) for brokers with `ssl.client.auth`
    /// (`ssl.certificate.location`).
    public var certificateLocation: String?
    /// The private key of ``certificateLocation`` (PEM; `ssl.key.location`).
    public var keyLocation: String?
    /// The password of an encrypted ``keyLocation`` (`ssl.key.password`).
    public var keyPassword: String?
    /// Verify the broker's certificate chain (`enable.ssl.certificate.verification`, default
    /// true). Turning it off accepts any broker: for tests only.
    public var verifyCertificate: Bool
    /// Check that the broker's certificate names the host connected to, and send that name as
    /// SNI (`ssl.endpoint.identification.algorithm=https`, the default; `none` turns it off).
    public var verifyHostname: Bool

    /// Creates TLS settings; by default the system's CAs are trusted and the broker's
    /// certificate and host name are verified.
    public init(
        caLocation: String? = nil, certificateLocation: String? = nil, keyLocation: String? = nil,
        keyPassword: String? = nil, verifyCertificate: Bool = true, verifyHostname: Bool = true
    ) {
        self.caLocation = caLocation
        self.certificateLocation = certificateLocation
        self.keyLocation = keyLocation
        self.keyPassword = keyPassword
        self.verifyCertificate = verifyCertificate
        self.verifyHostname = verifyHostname
    }

    /// The TLS context every connection of a client shares.
    /// - Throws: ``TernError`` `.invalidArgument` naming the file that cannot be used.
    func makeContext() throws(TernError) -> TLSContext {
        var configuration = TLSConfiguration(
            certificateChainPath: certificateLocation, privateKeyPath: keyLocation, privateKeyPassword: keyPassword,
            caPath: caLocation)
        configuration.verifyCertificate = verifyCertificate
        configuration.verifyHostname = verifyHostname
        do {
            return try TLSContext(configuration, role: .client)
        } catch {
            throw TernError(.invalidArgument, "TLS settings: \(error.message)")
        }
    }
}
