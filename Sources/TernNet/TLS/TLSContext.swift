import COpenSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An OpenSSL `SSL_CTX` built from a ``TLSConfiguration``: the certificate, key, trust anchors
/// and protocol limits every connection made from it shares.
///
/// Building it reads and checks every file, so a bad path, an unreadable key or a wrong password
/// fails here (naming the file) rather than at a client's first handshake. A context is
/// immutable once built; reloading certificates builds a new one (``TLSContextHolder``).
public final class TLSContext: @unchecked Sendable {
    // `@unchecked Sendable`: `context` is configured in `init` and only read afterwards; OpenSSL
    // makes `SSL_new` on a shared, no longer modified `SSL_CTX` safe from any thread (its
    // reference count is atomic).

    /// Which end of connections the context serves.
    public enum Role: Sendable {
        case server
        case client
    }

    let context: OpaquePointer
    /// Which end this context serves.
    public let role: Role
    /// What the context was built from.
    public let configuration: TLSConfiguration

    /// Builds a context, reading every file the configuration names.
    /// - Throws: `NetError` `.tlsConfiguration` naming the file and the reason (missing,
    ///   unreadable, not PEM, wrong key password, key not matching the certificate, bad cipher
    ///   list).
    public init(_ configuration: TLSConfiguration, role: Role) throws(NetError) {
        OpenSSLError.clear()
        guard let context = SSL_CTX_new(role == .server ? TLS_server_method() : TLS_client_method()) else {
            throw NetError(.tlsConfiguration, "cannot create a TLS context: \(OpenSSLError.drain())")
        }
        self.context = context
        self.role = role
        self.configuration = configuration
        // From here `deinit` frees the context when a step throws.
        try configure()
    }

    deinit {
        SSL_CTX_free(context)
    }

    private func configure() throws(NetError) {
        let protocols = configuration.protocols.sorted()
        guard let lowest = protocols.first, let highest = protocols.last else {
            throw NetError(.tlsConfiguration, "ssl.protocols lists no protocol (allowed: TLSv1.2, TLSv1.3)")
        }
        _ = tern_ssl_ctx_set_min_proto_version(context, Self.version(lowest))
        _ = tern_ssl_ctx_set_max_proto_version(context, Self.version(highest))
        // Ciphertext is moved through memory BIOs by the caller: a write of plaintext always
        // completes in full, and a moved buffer is fine.
        tern_ssl_ctx_set_mode(context, Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        tern_ssl_ctx_set_default_options(context)
        // Take all buffered ciphertext from the read BIO at once rather than record by record.
        tern_ssl_ctx_set_read_ahead(context)
        try configureCiphers()

        if let certificate = configuration.certificateChainPath {
            try Self.checkReadable(certificate, key: "ssl.certificate.location")
            OpenSSLError.clear()
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
                throw NetError(
                    .tlsConfiguration,
                    "ssl.certificate.location \(certificate): not a PEM certificate chain (\(OpenSSLError.drain()))")
            }
            guard let key = configuration.privateKeyPath else {
                throw NetError(.tlsConfiguration, "ssl.certificate.location is set but ssl.key.location is not")
            }
            try loadPrivateKey(key)
        } else if role == .server {
            throw NetError(.tlsConfiguration, "an SSL listener needs ssl.certificate.location and ssl.key.location")
        } else if configuration.privateKeyPath != nil {
            throw NetError(.tlsConfiguration, "ssl.key.location is set but ssl.certificate.location is not")
        }

        if let ca = configuration.caPath {
            try Self.checkReadable(ca, key: "ssl.ca.location")
            OpenSSLError.clear()
            guard SSL_CTX_load_verify_locations(context, ca, nil) == 1 else {
                throw NetError(
                    .tlsConfiguration, "ssl.ca.location \(ca): no PEM certificate in it (\(OpenSSLError.drain()))")
            }
            if role == .server, let names = SSL_load_client_CA_file(ca) {
                SSL_CTX_set_client_CA_list(context, names)
            }
        } else if role == .client && configuration.verifyCertificate {
            _ = SSL_CTX_set_default_verify_paths(context)
        }

        switch role {
        case .server:
            switch configuration.clientAuthentication {
            case .none:
                SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            case .requested, .required:
                guard configuration.caPath != nil else {
                    throw NetError(
                        .tlsConfiguration,
                        "ssl.client.auth=\(configuration.clientAuthentication.rawValue) needs ssl.ca.location (the CA that signs client certificates)"
                    )
                }
                let failIfNone = configuration.clientAuthentication == .required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER | failIfNone, nil)
            }
            // Connections are few and long-lived, and clients do not resume sessions: no session
            // cache and no TLS 1.3 session tickets (each costs the handshake an encryption).
            _ = tern_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
            _ = SSL_CTX_set_num_tickets(context, 0)
        case .client:
            SSL_CTX_set_verify(context, configuration.verifyCertificate ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        }
    }

    private func configureCiphers() throws(NetError) {
        guard !configuration.cipherSuites.isEmpty else { return }
        let tls13 = configuration.cipherSuites.filter { $0.hasPrefix("TLS_") }
        let tls12 = configuration.cipherSuites.filter { !$0.hasPrefix("TLS_") }
        OpenSSLError.clear()
        if !tls13.isEmpty, SSL_CTX_set_ciphersuites(context, tls13.joined(separator: ":")) != 1 {
            throw NetError(
                .tlsConfiguration, "ssl.cipher.suites: no usable TLS 1.3 suite in \(tls13.joined(separator: ","))")
        }
        if !tls12.isEmpty, SSL_CTX_set_cipher_list(context, tls12.joined(separator: ":")) != 1 {
            throw NetError(
                .tlsConfiguration,
                "ssl.cipher.suites: no usable TLS 1.2 cipher in \(tls12.joined(separator: ",")) (OpenSSL names, e.g. ECDHE-RSA-AES128-GCM-SHA256)"
            )
        }
    }

    private func loadPrivateKey(_ path: String) throws(NetError) {
        try Self.checkReadable(path, key: "ssl.key.location")
        OpenSSLError.clear()
        let password = configuration.privateKeyPassword ?? ""
        let loaded = password.withCString { cPassword -> Int32 in
            // An empty password makes an encrypted key fail to decrypt rather than prompt on a
            // terminal (OpenSSL's default with no callback).
            tern_ssl_ctx_use_password(context, cPassword)
            defer { tern_ssl_ctx_clear_password(context) }
            return SSL_CTX_use_PrivateKey_file(context, path, SSL_FILETYPE_PEM)
        }
        guard loaded == 1 else {
            if OpenSSLError.queueHoldsBadPassword() {
                OpenSSLError.clear()
                let hint =
                    configuration.privateKeyPassword == nil
                    ? "it is encrypted and no ssl.key.password is set" : "wrong ssl.key.password"
                throw NetError(.tlsConfiguration, "ssl.key.location \(path): cannot decrypt the key: \(hint)")
            }
            let reason = OpenSSLError.drain()
            if reason.contains("key values mismatch") {
                throw NetError(
                    .tlsConfiguration,
                    "ssl.key.location \(path) does not match the certificate in \(configuration.certificateChainPath ?? "?")"
                )
            }
            throw NetError(.tlsConfiguration, "ssl.key.location \(path): not a usable PEM private key (\(reason))")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw NetError(
                .tlsConfiguration,
                "ssl.key.location \(path) does not match the certificate in \(configuration.certificateChainPath ?? "?") (\(OpenSSLError.drain()))"
            )
        }
    }

    /// Refuses a missing or unreadable file with the system's reason, naming the key that set it.
    private static func checkReadable(_ path: String, key: String) throws(NetError) {
        guard let file = fopen(path, "r") else {
            let reason = NetError.errorText(errno)
            throw NetError(.tlsConfiguration, "\(key) \(path): cannot read it: \(reason)")
        }
        fclose(file)
    }

    private static func version(_ version: TLSConfiguration.ProtocolVersion) -> Int32 {
        switch version {
        case .tls12: return TLS1_2_VERSION
        case .tls13: return TLS1_3_VERSION
        }
    }
}

/// The TLS context a listener hands new connections, replaceable while it serves: a reload
/// swaps in a new context, new connections use it, open ones keep the one they started with.
public final class TLSContextHolder: Sendable {
    private let current: Mutex<TLSContext>

    /// Holds `context` until ``replace(with:)``.
    public init(_ context: TLSContext) {
        self.current = Mutex(context)
    }

    /// The context for the next connection.
    public var context: TLSContext { current.withLock { $0 } }

    /// Makes `context` the one new connections get.
    public func replace(with context: TLSContext) {
        current.withLock { $0 = context }
    }
}
