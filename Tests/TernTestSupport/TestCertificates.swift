import Foundation

/// Certificates for TLS tests, made by the `openssl` command in a temporary directory: a CA, a
/// server certificate for `localhost` and 127.0.0.1, a client certificate, and the bad ones
/// (expired, wrong host name, signed by an unknown CA). EC P-256 keys keep it fast.
public struct TestCertificates: Sendable {
    /// A certificate and its key, as PEM files.
    public struct Identity: Sendable {
        public let certificate: String
        public let key: String
    }

    public let directory: TemporaryDirectory
    /// The test CA's certificate (what clients and servers trust).
    public let ca: String
    /// Signed by ``ca``, for `localhost` and 127.0.0.1.
    public let server: Identity
    /// Signed by ``ca``, subject `CN=tern-client,O=Tern Tests`.
    public let client: Identity
    /// Signed by ``ca`` for `localhost` and 127.0.0.1, but already expired.
    public let expiredServer: Identity
    /// Signed by ``ca`` for `other.example` only.
    public let wrongHostServer: Identity
    /// A second, unrelated CA.
    public let otherCA: String
    /// Signed by ``otherCA``, for `localhost` and 127.0.0.1.
    public let otherCAServer: Identity

    /// Makes every certificate.
    /// - Throws: `BrokerProcessError` with openssl's output when a command fails.
    public init() throws {
        let directory = TemporaryDirectory("tern-tls")
        self.directory = directory
        let dir = directory.path
        ca = try Self.makeCA(dir, name: "ca", subject: "/CN=Tern Test CA")
        otherCA = try Self.makeCA(dir, name: "other-ca", subject: "/CN=Unknown Test CA")
        let local = "subjectAltName=DNS:localhost,IP:127.0.0.1"
        server = try Self.issue(dir, name: "server", subject: "/CN=localhost", extensions: local, ca: "ca")
        client = try Self.issue(
            dir, name: "client", subject: "/O=Tern Tests/CN=tern-client", extensions: "extendedKeyUsage=clientAuth",
            ca: "ca")
        expiredServer = try Self.issue(
            dir, name: "expired", subject: "/CN=localhost", extensions: local, ca: "ca", days: -1)
        wrongHostServer = try Self.issue(
            dir, name: "wronghost", subject: "/CN=other.example", extensions: "subjectAltName=DNS:other.example",
            ca: "ca")
        otherCAServer = try Self.issue(
            dir, name: "other-server", subject: "/CN=localhost", extensions: local, ca: "other-ca")
    }

    /// A client certificate signed by ``ca`` with subject `CN=commonName` (principal
    /// `User:CN=commonName` under mTLS).
    public func issueClient(commonName: String) throws -> Identity {
        try Self.issue(
            directory.path, name: "client-\(commonName)", subject: "/CN=\(commonName)",
            extensions: "extendedKeyUsage=clientAuth", ca: "ca")
    }

    /// Writes a copy of `identity`'s key encrypted with `password` (AES-256) and returns its path.
    public func encryptedKey(_ identity: Identity, password: String) throws -> String {
        let path = directory.path + "/encrypted-\(UUID().uuidString).key"
        try Self.openssl([
            "pkey", "-in", identity.key, "-out", path, "-aes256", "-passout", "pass:\(password)",
        ])
        return path
    }

    private static func makeCA(_ dir: String, name: String, subject: String) throws -> String {
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).pem", "-days", "30", "-subj", subject,
        ])
        return "\(dir)/\(name).pem"
    }

    private static func issue(
        _ dir: String, name: String, subject: String, extensions: String, ca: String, days: Int = 30
    ) throws -> Identity {
        let key = "\(dir)/\(name).key"
        let certificate = "\(dir)/\(name).pem"
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", "\(dir)/\(name).csr", "-subj", subject,
        ])
        try extensions.write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
        // -days -1 ends validity a day before it begins: an expired certificate.
        try openssl([
            "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/\(ca).pem", "-CAkey", "\(dir)/\(ca).key",
            "-CAcreateserial", "-out", certificate, "-days", "\(days)", "-extfile", "\(dir)/\(name).ext",
        ])
        return Identity(certificate: certificate, key: key)
    }

    /// Runs `openssl` with `arguments`.
    public static func openssl(_ arguments: [String]) throws {
        let candidates = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"]
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BrokerProcessError("the openssl command is not installed (apt-get install openssl)")
        }
        let result = try runCommand(executable, arguments, timeout: 60)
        guard result.status == 0 else {
            throw BrokerProcessError("openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }
}
