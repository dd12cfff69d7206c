/// The TLS settings of one side of a connection: a listener's certificate and client
/// authentication, or a client's trust anchors and identity. Paths name PEM files.
public struct TLSConfiguration: Sendable {
    /// Whether a server asks connecting clients for a certificate (`ssl.client.auth`).
    public enum ClientAuthentication: String, Sendable, CaseIterable {
        /// No client certificate is asked for.
        case none
        /// A certificate is asked for and verified when sent; a client without one is accepted.
        case requested
        /// A client without a valid certificate is refused during the handshake.
        case required
    }

    /// A TLS protocol version (`ssl.protocols`).
    public enum ProtocolVersion: String, Sendable, CaseIterable, Comparable {
        case tls12 = "TLSv1.2"
        case tls13 = "TLSv1.3"

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs == .tls12 && rhs == .tls13 }
    }

    /// This side's certificate chain (leaf first): required on a server, optional on a client
    /// (mutual TLS).
    public var certificateChainPath: String?
    /// The private key of ``certificateChainPath``'s leaf.
    public var privateKeyPath: String?
    /// The password of an encrypted private key.
    public var privateKeyPassword: String?
    /// Certificates trusted to sign the peer's: on a client the brokers' CA (nil: the system's
    /// default trust store), on a server the clients' CA (needed for client authentication).
    public var caPath: String?
    /// Server only: whether clients must present a certificate.
    public var clientAuthentication = ClientAuthentication.none
    /// The versions allowed (the lowest and highest of them bound the negotiation).
    public var protocols: [ProtocolVersion] = [.tls12, .tls13]
    /// OpenSSL cipher names: TLS 1.3 suites start with `TLS_` (`TLS_AES_128_GCM_SHA256`), the
    /// rest are TLS 1.2 names (`ECDHE-RSA-AES128-GCM-SHA256`); empty keeps OpenSSL's defaults.
    public var cipherSuites: [String] = []
    /// Client only: verify the server's certificate chain (default true).
    public var verifyCertificate = true
    /// Client only: check that the server's certificate names the host connected to, and send
    /// that name as SNI (`ssl.endpoint.identification.algorithm=https`; default true).
    public var verifyHostname = true

    /// Creates a configuration; set the properties that apply.
    public init(
        certificateChainPath: String? = nil, privateKeyPath: String? = nil, privateKeyPassword: String? = nil,
        caPath: String? = nil
    ) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.privateKeyPassword = privateKeyPassword
        self.caPath = caPath
    }

    /// The files this configuration reads, for change detection.
    public var files: [String] { [certificateChainPath, privateKeyPath, caPath].compactMap { $0 } }
}
