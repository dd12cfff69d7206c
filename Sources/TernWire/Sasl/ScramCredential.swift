/// What a broker stores for one user and one SCRAM mechanism, as Kafka does: the salt, StoredKey,
/// ServerKey and iteration count — never the password, nor anything that logs in by itself
/// (StoredKey is a hash of ClientKey, which the proof needs).
public struct ScramCredential: Hashable, Sendable {
    public var mechanism: ScramMechanism
    public var salt: [UInt8]
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]
    public var iterations: Int

    public init(mechanism: ScramMechanism, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8], iterations: Int) {
        self.mechanism = mechanism
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
        self.iterations = iterations
    }

    /// The credential for `password` with a given salt and iteration count (RFC 5802 section 3).
    /// The password is used as its UTF-8 bytes, as Kafka does (no SASLprep).
    public init(mechanism: ScramMechanism, password: String, salt: [UInt8], iterations: Int) {
        let salted = mechanism.saltedPassword(Array(password.utf8), salt: salt, iterations: iterations)
        self.init(
            mechanism: mechanism, salt: salt,
            storedKey: mechanism.hash(mechanism.hmac(key: salted, Array("Client Key".utf8))),
            serverKey: mechanism.hmac(key: salted, Array("Server Key".utf8)), iterations: iterations)
    }

    /// A new credential with a random 32-byte salt.
    public static func generate(
        mechanism: ScramMechanism, password: String, iterations: Int = ScramMechanism.minIterations
    )
        -> ScramCredential
    {
        ScramCredential(
            mechanism: mechanism, password: password, salt: ScramMechanism.randomBytes(32), iterations: iterations)
    }

    /// Whether the fields are ones a broker may store: digest-sized keys, a salt, iterations in
    /// Kafka's range. Returns what is wrong, or nil.
    public var invalidReason: String? {
        if salt.isEmpty || salt.count > 1024 { return "salt of \(salt.count) bytes (1 to 1024)" }
        if storedKey.count != mechanism.digestSize || serverKey.count != mechanism.digestSize {
            return "keys of \(storedKey.count)/\(serverKey.count) bytes; \(mechanism) needs \(mechanism.digestSize)"
        }
        if iterations < ScramMechanism.minIterations || iterations > ScramMechanism.maxIterations {
            return "\(iterations) iterations (\(ScramMechanism.minIterations) to \(ScramMechanism.maxIterations))"
        }
        return nil
    }

    /// Whether `password` is this credential's (for PLAIN), compared in constant time.
    public func verifies(password: String) -> Bool {
        let candidate = ScramCredential(mechanism: mechanism, password: password, salt: salt, iterations: iterations)
        return ScramMechanism.constantTimeEqual(candidate.storedKey, storedKey)
    }
}
